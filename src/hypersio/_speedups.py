"""Choose between a compiled module and its pure-Python twin, once, at import time.

Every hot-path module exists twice, ``<base>_c`` (Cython) and ``<base>_py`` (pure Python), with
the same ``__all__``. :data:`FAMILIES` is the one list of them: the selector modules load through
it, the test suite builds its twin fixture and its parity test from it.
``HYPERSIO_NO_EXTENSIONS=1`` forces the pure twins; ``HYPERSIO_REQUIRE_EXTENSIONS=1`` turns a
missing compiled module into an ImportError (CI and wheel tests use it so that a broken build can
never pass as a slow one).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["FAMILIES", "NO_EXTENSIONS", "REQUIRE_EXTENSIONS", "has_speedups", "load", "loaded", "missing_compiled"]

NO_EXTENSIONS: bool = os.environ.get("HYPERSIO_NO_EXTENSIONS", "") not in ("", "0")
REQUIRE_EXTENSIONS: bool = os.environ.get("HYPERSIO_REQUIRE_EXTENSIONS", "") not in ("", "0")

#: Twin families: name -> (base module path, public selector that re-exports the chosen twin).
FAMILIES: dict[str, tuple[str, str]] = {
    "websocket": ("hypersio.protocol.websocket._frames", "hypersio.protocol.websocket.frames"),
    "engineio": ("hypersio.protocol.engineio._packets", "hypersio.protocol.engineio.packets"),
    "json": ("hypersio.protocol.socketio._json", "hypersio.protocol.socketio.json_codec"),
    "msgpack": ("hypersio.protocol.socketio._msgpack", "hypersio.protocol.socketio.msgpack_codec"),
    "outlet": ("hypersio.engine._outlet", "hypersio.engine.outlet"),
    "dispatch": ("hypersio.events._dispatch", "hypersio.events.dispatch"),
    "rooms": ("hypersio.adapters._rooms", "hypersio.adapters.rooms"),
}

# Families for which the compiled module could not be used (empty = all compiled).
missing_compiled: list[str] = []
# Family -> the twin module its selector loaded.
loaded: dict[str, ModuleType] = {}


def load(family: str) -> ModuleType:
    """Import the compiled twin of ``family`` (one of :data:`FAMILIES`), or its pure twin.

    Called by the selector modules (``hypersio.protocol.socketio.json_codec`` and friends);
    applications never need it.
    """
    base = FAMILIES[family][0]
    module: ModuleType | None = None
    if not NO_EXTENSIONS:
        try:
            module = importlib.import_module(f"{base}_c")
        except ImportError:
            if REQUIRE_EXTENSIONS:
                raise
    if module is None:
        missing_compiled.append(family)
        module = importlib.import_module(f"{base}_py")
    loaded[family] = module
    return module


def has_speedups() -> bool:
    """True when every twin family is compiled (imports every selector first, so the answer is whole)."""
    for _base, selector in FAMILIES.values():
        importlib.import_module(selector)
    return not NO_EXTENSIONS and not missing_compiled
