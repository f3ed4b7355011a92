"""A headless Chromium driven over the Chrome DevTools protocol on a pipe (no extra package).

``--remote-debugging-pipe`` makes Chromium read CDP commands from fd 3 and write answers and
events to fd 4, each a JSON message ended by a NUL byte. :class:`Chromium` starts it with those
two pipes, attaches to its first page (flat session mode) and offers the few commands the
browser tests need. Blocking: run it in a thread next to an asyncio server.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_TRAMPOLINE = """
import fcntl, os, sys
# Copied above 9 first: neither may already sit on 3 or 4 (a copy there would keep close-on-exec).
a = fcntl.fcntl(int(sys.argv[1]), fcntl.F_DUPFD_CLOEXEC, 10)
b = fcntl.fcntl(int(sys.argv[2]), fcntl.F_DUPFD_CLOEXEC, 10)
os.dup2(a, 3, inheritable=True)
os.dup2(b, 4, inheritable=True)
os.execv(sys.argv[3], sys.argv[3:])
"""

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(Exception):
    """A CDP command answered with an error."""


class Chromium:
    """One headless browser with one attached page; use as a context manager."""

    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 1000) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        # A file, not a pipe: Chromium logs a lot, and a full pipe would block it.
        profile.mkdir(parents=True, exist_ok=True)
        self._log_path = profile / "chromium.log"
        log = self._log_path.open("wb")
        # A small Python trampoline puts the two pipe ends on fds 3 and 4 and execs Chromium (no
        # preexec_fn, unsafe in a process with threads; no shell, dash cannot name fds above 9).
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_browser_r),
                str(from_browser_w),
                binary,
                "--headless=new",
                "--no-sandbox",  # tests may run as root in a container
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                f"--window-size={width},{height}",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            pass_fds=(to_browser_r, from_browser_w),
        )
        log.close()
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                stderr = self._log_path.read_text(errors="replace")
                raise CDPError(f"Chromium closed the pipe (exit {self._proc.poll()}): {stderr[-2000:]}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        result: dict[str, Any] = json.loads(message)
        return result

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Send one command (to the page once attached, ``Target.*``/``Browser.*`` to the browser)
        and return its result; events received meanwhile are dropped."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise CDPError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def navigate(self, url: str) -> None:
        """Open ``url`` in the page."""
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable results only)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CDPError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Evaluate ``expression`` every 100 ms until it is truthy; return that value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            time.sleep(0.1)
        raise TimeoutError(f"{expression} stayed falsy; last value {last!r}")

    def screenshot(self, path: Path) -> int:
        """Save a PNG of the page at ``path``; returns its size in bytes."""
        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)

    def close(self) -> None:
        """Close the browser (and wait for the process)."""
        if self._proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
            except (CDPError, TimeoutError, OSError):
                pass
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
