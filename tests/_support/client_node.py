"""Start and stop tests/js/node_server.js (the official Node Socket.IO server) for client tests."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from pathlib import Path

NODE_SERVER = Path(__file__).resolve().parent.parent / "js" / "node_server.js"


class NodeServer:
    """One node_server.js process on 127.0.0.1; :meth:`restart` brings it back on the same port."""

    def __init__(self, env: dict[str, str], parser: str = "json", extra_env: dict[str, str] | None = None) -> None:
        self.env = {**env, **(extra_env or {}), "HYPERSIO_TEST_SERVER_TTL": "90"}
        self.parser = parser
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start node (on ``self.port``; 0 picks a free one) and wait for "listening <port>"."""
        # stdin is a pipe: if this test process dies, node sees EOF and exits by itself.
        self.proc = subprocess.Popen(
            ["node", str(NODE_SERVER), str(self.port), self.parser],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
        )
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.stop()
                raise RuntimeError("node_server.js did not start in time")
            chunk = os.read(self.proc.stdout.fileno(), 256)
            if not chunk:
                self.stop()
                raise RuntimeError("node_server.js exited before listening")
            line += chunk
        sel.close()
        self.port = int(line.split()[1])

    def stop(self) -> None:
        """Stop node (SIGTERM, then SIGKILL after 3 s)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(3)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def restart(self) -> None:
        """Start again on the same port (after :meth:`stop`)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # the port may linger a moment after the old process
