# C-level declarations other compiled modules cimport: the incoming dispatch (_dispatch_c) sends
# an ack through outlet_send without a Python method call.

cdef class Corker:
    cdef object _loop
    cdef list _dirty
    cdef bint _scheduled
    cdef object _flush_cb
    cdef object __weakref__

    cpdef mark(self, item)


cdef class CorkedWriter:
    cdef public object transport
    cdef public Corker _corker
    cdef public list _out
    cdef public Py_ssize_t _out_size
    cdef public bint _corked
    cdef public bint _paused_writing
    cdef public bint _close_after_flush
    cdef public bint write_closed
    cdef public Py_ssize_t _backlog
    cdef public Py_ssize_t high_water
    cdef public Py_ssize_t hard_limit
    cdef public Py_ssize_t bytes_written
    cdef public Py_ssize_t bytes_received
    cdef public Py_ssize_t volatile_dropped
    cdef public object budget

    cpdef write(self, data)
    cdef int append_frame(self, bytes frame, bint is_volatile) except -1
    cdef bint _congested(self) except -1
    cdef int _flush(self) except -1


cdef class Outlet:
    cdef public object id
    cdef public bint closed
    cdef public CorkedWriter ws_out
    cdef public object carrier
    cdef public tuple message_handlers
    cdef public bint awaiting_pong


cdef class WebSocketFeed:
    cdef public CorkedWriter conn
    cdef public object session
    cdef public object _parser
    cdef public bint _closed
    cdef public bint _input_counted
    cdef public object _backlog


cdef int outlet_send(Outlet outlet, object data, bint is_volatile) except -1
