"""Choose between a compiled module and its pure-Python twin, once, at import time.

Every hot-path module exists twice: ``_name_c`` (Cython) and ``_name_py`` (pure Python) with the
same API. ``HYPERSIO_NO_EXTENSIONS=1`` forces the twins; ``HYPERSIO_REQUIRE_EXTENSIONS=1`` turns a
missing compiled module into an ImportError (CI and wheel tests use it so that a broken build can
never pass as a slow one).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

NO_EXTENSIONS: bool = os.environ.get("HYPERSIO_NO_EXTENSIONS", "") not in ("", "0")
REQUIRE_EXTENSIONS: bool = os.environ.get("HYPERSIO_REQUIRE_EXTENSIONS", "") not in ("", "0")

# Names of twins for which the compiled module could not be used (empty = all compiled).
missing_compiled: list[str] = []


def load(stem: str) -> ModuleType:
    """Import ``hypersio.<stem>_c`` (compiled) or ``hypersio.<stem>_py`` (pure twin).

    Called by the public selector modules (``hypersio.parser`` and friends); applications never
    need it.
    """
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module(f"hypersio.{stem}_c")
        except ImportError:
            if REQUIRE_EXTENSIONS:
                raise
    missing_compiled.append(stem)
    return importlib.import_module(f"hypersio.{stem}_py")


def has_speedups() -> bool:
    """True when every twin imported so far is the compiled one."""
    return not NO_EXTENSIONS and not missing_compiled
