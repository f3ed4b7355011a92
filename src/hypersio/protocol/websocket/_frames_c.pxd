# The C-level entry points other compiled modules cimport (the fan-out's per-message send).
cpdef bytes message_frame(object data)
