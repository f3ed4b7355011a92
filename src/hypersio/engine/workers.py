"""Every core of one machine: N worker processes behind one port, with sticky sessions.

``python -m hypersio serve MODULE:ATTR --workers N`` and ``Server.run(..., workers=N)`` start a
**primary** process that owns the listening socket and N **workers** that run the application.

How a request reaches its worker (and why this way):

* The primary accepts every TCP connection and reads its first request head only, up to the
  blank line. Engine.IO session ids start with the name of the worker that made them (a two-
  character tag), so the ``sid`` in the query says where the session lives. A head with no sid
  (a handshake, or a WebSocket opened directly) goes to the next worker in turn.
* The primary then passes the socket itself, with the bytes it read, to that worker over a
  ``SOCK_SEQPACKET`` Unix socket (SCM_RIGHTS) and closes its own copy. The worker carries on as if
  it had accepted the connection: the primary never copies a byte of the traffic afterwards, so
  a WebSocket costs the primary one accept, one read and one ``sendmsg`` for its whole life.
* A kept-alive HTTP connection could carry requests of another worker's session next (browsers
  share connections between tabs), so under workers every HTTP response closes its connection and
  each long-polling request is routed on its own. WebSocket connections stay where they are.

The alternatives were worse: ``SO_REUSEPORT`` spreads connections blindly (polling breaks), a
proxying primary copies every byte twice, and routing by client address sends a whole office
behind one NAT to one worker.

Supervision: a worker that dies is logged and started again; SIGTERM or SIGINT to the primary
closes the listening socket and asks every worker to close gracefully (clients get a clean close),
waits for them, and kills what is left after the grace period. The primary never runs handlers:
with ``serve`` it does not even import the application; with ``run(workers=N)`` it forks the
workers from the process that built the server, before any event loop runs.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

__all__ = [
    "MAX_WORKERS",
    "Primary",
    "fork_starter",
    "run_worker",
    "sid_from_head",
    "spawn_starter",
    "tag_for",
    "worker_of_tag",
]

logger = logging.getLogger("hypersio.workers")

_TAG_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_WORKERS = len(_TAG_ALPHABET) ** 2
_HEAD_LIMIT = 16384
_HEAD_TIMEOUT = 10.0
#: Connections waiting for one worker's channel to drain (a worker that is busy or stopped); past
#: this many, or after ``_HEAD_TIMEOUT`` seconds, they are closed (the client retries).
_BACKLOG_LIMIT = 4096


def tag_for(index: int) -> str:
    """The two-character tag that starts the session ids of worker ``index``."""
    if not 0 <= index < MAX_WORKERS:
        raise ValueError(f"worker index must be in [0, {MAX_WORKERS})")
    return _TAG_ALPHABET[index // len(_TAG_ALPHABET)] + _TAG_ALPHABET[index % len(_TAG_ALPHABET)]


def worker_of_tag(sid: str) -> int | None:
    """The worker index a session id names, or None when it names none."""
    if len(sid) < 2:
        return None
    high, low = _TAG_ALPHABET.find(sid[0]), _TAG_ALPHABET.find(sid[1])
    if high < 0 or low < 0:
        return None
    return high * len(_TAG_ALPHABET) + low


def sid_from_head(head: bytes) -> str | None:
    """The ``sid`` query parameter of an HTTP request head, or None (a handshake or garbage)."""
    line_end = head.find(b"\r\n")
    request_line = head[: line_end if line_end >= 0 else len(head)]
    parts = request_line.split(b" ")
    if len(parts) < 2:
        return None
    target = parts[1]
    question = target.find(b"?")
    if question < 0:
        return None
    try:
        query = parse_qs(target[question + 1 :].decode("latin-1"))
    except ValueError:
        return None
    values = query.get("sid")
    return values[0] if values else None


class WorkerProcess(Protocol):
    """A running worker as the primary supervises it."""

    pid: int

    def poll(self) -> int | None:
        """Its exit status once it has ended, else None."""
        ...

    def send_signal(self, sig: int) -> None:
        """Send it a signal."""
        ...


#: ``start(index, channel, primary_fds)`` starts worker ``index`` serving the connections sent on
#: ``channel`` (the worker's end of the socket pair; the primary closes its copy after the start).
#: ``primary_fds`` are the primary's own descriptors, which a forked worker must close.
Starter = Callable[[int, socket.socket, list[int]], WorkerProcess]


class _ForkedWorker:
    """A worker made with ``os.fork`` (``Server.run(workers=N)``)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._status: int | None = None

    def poll(self) -> int | None:
        if self._status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self._status = -1
                return self._status
            if pid:
                self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def send_signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


class _Slot:
    """One worker place: its process, the primary's end of its channel, when it started, and the
    connections waiting for the channel to take them (it is full while the worker is busy)."""

    __slots__ = ("index", "process", "channel", "started", "backlog")

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: WorkerProcess | None = None
        self.channel: socket.socket | None = None
        self.started = 0.0
        self.backlog: deque[tuple[socket.socket, bytes, float]] = deque()


class Primary:
    """The process that owns the port: routes connections to workers and supervises them (see the
    module docstring). ``run()`` blocks until SIGTERM/SIGINT and returns the exit status."""

    def __init__(self, host: str, port: int, workers: int, start: Starter, grace: float = 10.0) -> None:
        if workers < 1 or workers > MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        self.host = host
        self.port = port
        self.start = start
        self.grace = grace
        self.slots = [_Slot(i) for i in range(workers)]
        self._next = 0
        self._stopping = False
        self._pending: dict[int, tuple[socket.socket, bytearray, float]] = {}
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._refused_at = 0.0

    # --- workers ----------------------------------------------------------------------------------

    def _start_worker(self, slot: _Slot) -> None:
        primary_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            slot.process = self.start(slot.index, worker_end, self._own_fds())
        finally:
            worker_end.close()
        # Non-blocking: a worker that does not read its channel (busy, stopped) must not stall the
        # routing to every other worker; what it cannot take yet waits in the slot's backlog.
        primary_end.setblocking(False)
        slot.channel = primary_end
        slot.started = time.monotonic()
        logger.info("worker %d started (pid %d)", slot.index, slot.process.pid)

    def _own_fds(self) -> list[int]:
        fds = [self._wake_r.fileno(), self._wake_w.fileno()]
        if self._listener is not None:
            fds.append(self._listener.fileno())
        fds.extend(slot.channel.fileno() for slot in self.slots if slot.channel is not None)
        fds.extend(self._pending)
        fds.extend(conn.fileno() for slot in self.slots for conn, _, _ in slot.backlog)
        selector_fd = getattr(self._selector, "fileno", None)
        if selector_fd is not None:
            fds.append(selector_fd())
        return fds

    def _check_workers(self) -> None:
        for slot in self.slots:
            process = slot.process
            if process is None:
                if not self._stopping:
                    self._start_worker(slot)
                continue
            status = process.poll()
            if status is None:
                continue
            self._close_channel(slot)
            slot.process = None
            if self._stopping:
                continue
            lived = time.monotonic() - slot.started
            logger.error(
                "worker %d (pid %d) exited with status %s after %.1fs; restarting it",
                slot.index,
                process.pid,
                status,
                lived,
            )
            if lived < 1.0:
                time.sleep(1.0)  # one that dies at once must not spin the primary
            self._start_worker(slot)

    def _alive(self) -> list[_Slot]:
        return [slot for slot in self.slots if slot.channel is not None]

    def _close_channel(self, slot: _Slot) -> None:
        """Close a worker's channel and the connections still waiting for it (their clients retry)."""
        if slot.channel is not None:
            if slot.backlog:
                self._selector.unregister(slot.channel)
            slot.channel.close()
            slot.channel = None
        while slot.backlog:
            slot.backlog.popleft()[0].close()

    # --- routing --------------------------------------------------------------------------------------

    def _route(self, conn: socket.socket, head: bytes) -> None:
        target: _Slot | None = None
        sid = sid_from_head(head)
        if sid is not None:
            index = worker_of_tag(sid)
            if index is not None and index < len(self.slots) and self.slots[index].channel is not None:
                target = self.slots[index]
        if target is None:
            # A handshake, or a session whose worker is gone (any worker answers "unknown sid",
            # and the client starts afresh): the next worker in turn, skipping the ones that are
            # not keeping up (a backlog) while another one is.
            alive = self._alive()
            if not alive:
                conn.close()
                return
            keeping_up = [slot for slot in alive if not slot.backlog] or alive
            target = keeping_up[self._next % len(keeping_up)]
            self._next += 1
        if target.backlog:  # keep the order: behind the ones already waiting
            if len(target.backlog) >= _BACKLOG_LIMIT:
                self._refuse(target, "its backlog is full")
                conn.close()
                return
            target.backlog.append((conn, head, time.monotonic()))
            return
        if not self._hand(target, conn, head):
            target.backlog.append((conn, head, time.monotonic()))
            assert target.channel is not None
            self._selector.register(target.channel, selectors.EVENT_WRITE, target)

    def _hand(self, slot: _Slot, conn: socket.socket, head: bytes) -> bool:
        """Pass ``conn`` to ``slot``'s worker and close it here; False when the channel is full."""
        channel = slot.channel
        assert channel is not None
        try:
            socket.send_fds(channel, [head], [conn.fileno()])
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            self._refuse(slot, str(exc))
        conn.close()  # the worker holds its own descriptor now
        return True

    def _flush(self, slot: _Slot) -> None:
        """The channel of ``slot`` can take more: pass its waiting connections, oldest first."""
        while slot.backlog and slot.channel is not None:
            conn, head, _ = slot.backlog[0]
            if not self._hand(slot, conn, head):
                return
            slot.backlog.popleft()
        if slot.channel is not None:
            self._selector.unregister(slot.channel)

    def _refuse(self, slot: _Slot, why: str) -> None:
        now = time.monotonic()
        if now - self._refused_at > 10:
            self._refused_at = now
            logger.warning("could not hand a connection to worker %d: %s", slot.index, why)

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        for _ in range(64):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: keep serving, try again shortly
                logger.warning("accept failed: %s", exc)
                return
            conn.setblocking(False)
            self._pending[conn.fileno()] = (conn, bytearray(), time.monotonic())
            self._selector.register(conn, selectors.EVENT_READ, "conn")

    def _read_head(self, conn: socket.socket) -> None:
        entry = self._pending.get(conn.fileno())
        if entry is None:
            return
        _, buf, _ = entry
        try:
            data = conn.recv(_HEAD_LIMIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buf += data
        if b"\r\n\r\n" in buf or len(buf) >= _HEAD_LIMIT:
            # An oversized head goes on too: the worker's parser refuses it with a proper answer.
            self._forget(conn)
            self._route(conn, bytes(buf))

    def _forget(self, conn: socket.socket) -> None:
        self._pending.pop(conn.fileno(), None)
        self._selector.unregister(conn)

    def _drop(self, conn: socket.socket) -> None:
        self._forget(conn)
        conn.close()

    def _sweep(self) -> None:
        limit = time.monotonic() - _HEAD_TIMEOUT
        for conn, _, since in list(self._pending.values()):
            if since < limit:
                self._drop(conn)  # never sent a whole request head
        for slot in self.slots:
            dropped = 0
            while slot.backlog and slot.backlog[0][2] < limit:  # its worker has not taken it in time
                slot.backlog.popleft()[0].close()
                dropped += 1
            if dropped:
                self._refuse(slot, f"{dropped} connection(s) waited more than {_HEAD_TIMEOUT:g}s")
                if not slot.backlog and slot.channel is not None:
                    self._selector.unregister(slot.channel)

    # --- life ------------------------------------------------------------------------------------------

    def bind(self) -> socket.socket:
        """Bind the listening socket (``port`` 0 picks one; read it from the result)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(1024)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        return listener

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def run(self) -> int:
        """Start the workers, route connections until SIGTERM/SIGINT, then stop everything."""
        if self._listener is None:
            self.bind()
        assert self._listener is not None
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in self.slots:
                self._start_worker(slot)
            self._selector.register(self._listener, selectors.EVENT_READ, "accept")
            self._wake_r.setblocking(False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            logger.info("hypersio primary on %s:%s with %d workers", self.host, self.port, len(self.slots))
            last_sweep = time.monotonic()
            while not self._stopping:
                for key, _ in self._selector.select(0.5):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "conn":
                        self._read_head(key.fileobj)  # type: ignore[arg-type]
                    elif isinstance(key.data, _Slot):
                        self._flush(key.data)
                    else:
                        try:
                            self._wake_r.recv(64)
                        except OSError:
                            pass
                if self._stopping:
                    break
                self._check_workers()
                now = time.monotonic()
                if now - last_sweep > 1.0:
                    last_sweep = now
                    self._sweep()
            return self._shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _shutdown(self) -> int:
        logger.info("stopping: closing the port and every worker")
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        for conn, _, _ in list(self._pending.values()):
            self._drop(conn)
        for slot in self.slots:
            if slot.process is not None:
                slot.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(s.process and s.process.poll() is None for s in self.slots):
            time.sleep(0.05)
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                logger.warning("worker %d did not stop in %.0fs; killing it", slot.index, self.grace)
                slot.process.send_signal(signal.SIGKILL)
                while slot.process.poll() is None:
                    time.sleep(0.01)
            self._close_channel(slot)
        self._selector.close()
        return 0


# --- the workers' side ------------------------------------------------------------------------------


def run_worker(server: Any, channel: socket.socket, index: int) -> None:
    """Run ``server`` (a ``hypersio.Server``) as worker ``index``: serve what the primary passes
    over ``channel`` until SIGTERM/SIGINT or until the primary goes away, then close gracefully."""
    import asyncio

    async def main() -> None:
        await server.serve_handoff(channel, tag_for(index))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # The primary dying closes the channel: the engine stops taking connections; the
        # parent check below then ends the worker too, so no orphan keeps serving.
        parent = os.getppid()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                if os.getppid() != parent:
                    break
        await server.close()

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on CPython/Unix
        asyncio.run(main())
    else:
        uvloop.run(main())


def fork_starter(server: Any, prepare: Callable[[int], None] | None = None) -> Starter:
    """Start workers by forking this process (``Server.run(workers=N)``): each child runs
    ``server`` as built here, after ``prepare(index)``. Must be used before any event loop runs
    in this process."""

    def start(index: int, channel: socket.socket, primary_fds: list[int]) -> WorkerProcess:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                for fd in primary_fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                if prepare is not None:
                    prepare(index)
                run_worker(server, channel, index)
            except BaseException:
                logger.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        return _ForkedWorker(pid)

    return start


def spawn_starter(app: str, extra_args: list[str] | None = None) -> Starter:
    """Start workers as ``python -m hypersio serve APP --worker I:FD`` processes, so the primary
    never imports the application."""

    def start(index: int, channel: socket.socket, primary_fds: list[int]) -> WorkerProcess:
        fd = channel.fileno()
        argv = [sys.executable, "-m", "hypersio", "serve", app, "--worker", f"{index}:{fd}", *(extra_args or [])]
        return subprocess.Popen(argv, pass_fds=(fd,))

    return start
