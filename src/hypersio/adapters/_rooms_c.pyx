# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The room walk of a broadcast, compiled twin of ``_rooms_py`` (same API, same behaviour).

Why C here: a broadcast to N clients runs the recipient loop N times. In C a recipient costs a
dict-slot read, a few struct fields (is it stamped, alive, closed, which buffer) and a list
append of the shared frame: no attribute lookups, no method calls, no per-broadcast sets. The
buffers belong to the engine (``hypersio.engine._outlet_c``, cimported), so appending a frame is
a C call. See the pure twin for the design notes.
"""

from cpython.dict cimport PyDict_DelItem, PyDict_GetItem, PyDict_Next, PyDict_Size
from cpython.set cimport PySet_GET_SIZE, PySet_Pop
from cpython.list cimport PyList_GET_SIZE
from cpython.object cimport PyObject
from libc.stdint cimport uint64_t

from hypersio.engine._outlet_c cimport CorkedWriter, Outlet

__all__ = ["Member", "deliver", "leave_rooms"]

# The socket's outgoing listeners, read from its instance dict (hypersio.adapters.base.SocketView).
cdef str _ANY_OUTGOING = "any_outgoing_listeners"


cdef class Member:
    """One socket of one namespace in the room index: the entry every room of it holds.

    ``own`` is True while the socket is in its own room (not held in the room index); ``rooms``
    is the set of its other rooms' names, None until it joins one (see the pure twin).
    ``socket`` and the session behind it are looked up
    (in the namespace's socket table) on the first broadcast that reaches the member, because a
    socket joins its own room before it is registered. ``alive`` turns False the moment the socket
    leaves the index, even when the removal itself waits for a running fan-out to end.
    """

    cdef public str sid
    cdef public bint own
    cdef public set rooms
    cdef public object socket
    cdef public bint alive
    cdef object outlet
    cdef object socket_dict
    cdef bint fast  # the session is an Outlet: its fields are read in C
    cdef uint64_t mark

    def __init__(self, str sid):
        self.sid = sid
        self.own = False
        self.rooms = None
        self.socket = None
        self.alive = True
        self.outlet = None
        self.socket_dict = None
        self.fast = False
        self.mark = 0

    def __repr__(self):
        return f"<Member {self.sid!r} rooms={len(self.rooms or ()) + self.own}{'' if self.alive else ' dead'}>"

    def bind(self, sock):
        """Attach the socket object (and its session) this entry stands for."""
        self.socket = sock
        self.outlet = sock.session
        self.fast = isinstance(self.outlet, Outlet)
        d = getattr(sock, "__dict__", None)
        self.socket_dict = d if type(d) is dict else None


cdef uint64_t _epoch = 0
cdef int _depth = 0


cdef class _Fanout:
    """What one :func:`deliver` call carries from recipient to recipient."""

    cdef list prepared
    cdef bytes frame  # the single frame of a one-part message, built on the first WebSocket recipient
    cdef list frames  # ... or every part's frame
    cdef bint is_volatile
    cdef list data
    cdef object args
    cdef object on_client
    cdef object ack_id
    cdef dict sockets
    cdef Py_ssize_t count
    cdef uint64_t epoch
    cdef set seen

    cdef int visit(self, dict group, bint check, bint stamp) except -1:
        cdef Py_ssize_t pos = 0
        cdef PyObject* key
        cdef PyObject* value
        while PyDict_Next(group, &pos, &key, &value):
            self.reach(<Member?><object>value, check, stamp)
        return 0

    cdef inline int reach(self, Member m, bint check, bint stamp) except -1:
        # One member of a visited room: skip it (stamped, excluded, gone) or send it the message.
        cdef Outlet outlet
        cdef CorkedWriter w
        cdef PyObject* listeners
        cdef set seen = self.seen
        cdef bint is_volatile = self.is_volatile
        if check:
            if seen is None:
                if m.mark == self.epoch:
                    return 0
            elif id(m) in seen:
                return 0
        if stamp:
            if seen is None:
                m.mark = self.epoch
            else:
                seen.add(id(m))
        if not m.alive:
            return 0
        if m.socket is None:
            sock = self.sockets.get(m.sid)
            if sock is None:
                return 0
            m.bind(sock)
        if self.on_client is not None:
            self.on_client(m.socket, self.ack_id)
        if m.socket_dict is not None:
            listeners = PyDict_GetItem(m.socket_dict, _ANY_OUTGOING)
            if listeners != NULL and (<object>listeners):
                self._notify(m.socket)
        elif getattr(m.socket, _ANY_OUTGOING, None):
            self._notify(m.socket)
        if m.fast:
            outlet = <Outlet>m.outlet
            if outlet.closed:
                pass
            elif outlet.ws_out is not None:
                w = outlet.ws_out
                if self.frame is None and self.frames is None:
                    self._build_frames()
                if self.frames is None:
                    w.append_frame(self.frame, is_volatile)
                else:
                    for frame in self.frames:
                        w.append_frame(<bytes?>frame, is_volatile)
            else:
                for msg in self.prepared:
                    outlet.send_prepared(msg, is_volatile)
        else:
            for msg in self.prepared:
                m.outlet.send_prepared(msg, is_volatile)
        self.count += 1
        return 0

    cdef int _build_frames(self) except -1:
        if PyList_GET_SIZE(self.prepared) == 1:
            self.frame = self.prepared[0].ws_frame
        else:
            self.frames = [msg.ws_frame for msg in self.prepared]
        return 0

    cdef int _notify(self, sock) except -1:
        if self.args is None:
            self.args = self.data[1:]
        sock.notify_outgoing(self.data[0], self.args)
        return 0


def deliver(dict rooms, dict members, target_rooms, except_rooms, dict sockets, list prepared,
            bint is_volatile, list data, on_client=None, ack_id=0):
    """Send the prepared messages to every member the rooms select; returns how many were reached.

    See the pure twin's docstring: same arguments, same order of effects per recipient.
    """
    global _epoch, _depth
    cdef _Fanout state = _Fanout.__new__(_Fanout)
    cdef Member m
    cdef PyObject* key
    cdef PyObject* value
    cdef Py_ssize_t pos
    cdef dict group
    cdef PyObject* own
    cdef bint excluding = bool(except_rooms)
    cdef bint several
    if PyList_GET_SIZE(prepared) != 1:
        is_volatile = False
    state.prepared = prepared
    state.is_volatile = is_volatile
    state.data = data
    state.on_client = on_client
    state.ack_id = ack_id
    state.sockets = sockets
    state.count = 0
    if _depth:
        state.seen = set()  # nested: leave the outer fan-out's stamps alone
        state.epoch = 0
    else:
        _epoch += 1
        state.epoch = _epoch
    _depth += 1
    try:
        if excluding:
            for room in except_rooms:
                found = rooms.get(room)
                if found:
                    group = <dict?>found
                    pos = 0
                    while PyDict_Next(group, &pos, &key, &value):
                        m = <Member?><object>value
                        if state.seen is None:
                            m.mark = state.epoch
                        else:
                            state.seen.add(id(m))
                own = PyDict_GetItem(members, room)
                if own is not NULL and (<Member?><object>own).own:
                    if state.seen is None:
                        (<Member>own).mark = state.epoch
                    else:
                        state.seen.add(id(<object>own))
        if not target_rooms:
            state.visit(members, excluding, False)
        else:
            # One room: its own member and its index entry are disjoint, no stamps needed.
            several = len(target_rooms) != 1
            for room in target_rooms:
                own = PyDict_GetItem(members, room)
                if own is not NULL and (<Member?><object>own).own:
                    state.reach(<Member>own, several or excluding, several)
                found = rooms.get(room)
                if found:
                    state.visit(<dict?>found, several or excluding, several)
        return state.count
    finally:
        _depth -= 1


def leave_rooms(dict rooms, Member member, Py_ssize_t limit, list left=None, list emptied=None):
    """Take ``member`` out of at most ``limit`` of its rooms; return how many it still has.

    See the pure twin: same effects, in C (a set pop and two dict operations per room).
    """
    cdef set mine = member.rooms
    cdef str sid = member.sid
    cdef Py_ssize_t done = 0
    cdef PyObject* found
    cdef PyObject* entry
    if mine is None:  # only its own room, which the adapter handles
        return 0
    while PySet_GET_SIZE(mine) and done < limit:
        room = PySet_Pop(mine)
        done += 1
        found = PyDict_GetItem(rooms, room)
        if found is not NULL:
            group = <dict?><object>found
            entry = PyDict_GetItem(group, sid)
            if entry is <PyObject*>member:
                PyDict_DelItem(group, sid)
                if PyDict_Size(group) == 0:
                    PyDict_DelItem(rooms, room)
                    if emptied is not None:
                        emptied.append(room)
        if left is not None:
            left.append(room)
    return PySet_GET_SIZE(mine)
