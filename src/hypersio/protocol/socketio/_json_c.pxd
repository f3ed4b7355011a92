# C-level declarations other compiled modules cimport: the incoming dispatch (_dispatch_c) reads
# a decoded Packet's fields and calls Decoder.add without going through Python attribute lookups.
cimport cython


@cython.final
cdef class Packet:
    cdef public int type
    cdef public object nsp
    cdef public object data
    cdef public object id
    cdef public Py_ssize_t attachments


@cython.final
cdef class Decoder:
    cdef public Py_ssize_t max_attachments
    cdef Packet _pending
    cdef list _buffers

    cpdef object add(self, object chunk)


# The encoder behind encode_packet: the dispatch answers acks with it directly.
cdef list _encode(int ptype, object nsp, object data, object pid)
