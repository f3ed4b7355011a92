# The C-level entry points other compiled modules cimport: the fan-out's per-message send, and the
# frame parser the server's WebSocket read path (engine/_outlet_c) calls without a method lookup.
cpdef bytes message_frame(object data)


cdef class FrameParser:
    cdef public Py_ssize_t max_message_size
    cdef public bint expect_masked
    cdef public bint per_message_deflate
    cdef public bint peer_no_context_takeover
    # The fragmented message in progress had RSV1 on its first frame.
    cdef bint _frag_compressed
    # zlib's decompress object (context takeover), made with the first compressed message.
    cdef object _inflater
    cdef unsigned char* _buf
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap
    cdef int _frag_opcode
    # One growing buffer, not a list of parts: a flood of 1-byte fragments costs 1 byte each.
    cdef bytearray _frag
    # Validates a fragmented text message as it arrives, so bad UTF-8 fails fast (RFC 6455 8.1).
    cdef object _utf8
    cdef object _error

    cdef Py_ssize_t pending_bytes(self) noexcept
    cdef list feed_c(self, object data)
    cdef int _reserve(self, Py_ssize_t needed) except -1
    cdef void _drop_buffer(self) noexcept
    cdef Py_ssize_t _parse(self, const unsigned char* p, Py_ssize_t end, list out) except -1
    cdef bytes _inflate(self, object data)
    cdef int _append_fragment(self, const unsigned char* body, Py_ssize_t n, const unsigned char* key) except -1
    cdef object _decode_text(self, const unsigned char* body, Py_ssize_t n, const unsigned char* key)
