"""Build script: compiles every ``src/hypersio/**/*.pyx`` into an extension module.

Why a setup.py next to pyproject.toml: the list of extensions is derived from the tree, and the
build must fail loudly when a compile was intended and did not work (a silent fallback to the
pure-Python twins would ship a wheel ten times slower than the user benchmarked).

``HYPERSIO_NO_EXTENSIONS=1`` at build time produces a pure-Python build on purpose.
"""

from __future__ import annotations

import glob
import os
import sys

from setuptools import Extension, setup

ROOT = os.path.dirname(os.path.abspath(__file__))
PURE_BUILD = os.environ.get("HYPERSIO_NO_EXTENSIONS", "") not in ("", "0")


def _module_name(source: str) -> str:
    relative = os.path.relpath(source, os.path.join(ROOT, "src"))
    return os.path.splitext(relative)[0].replace(os.sep, ".")


def _extensions() -> list[Extension]:
    pyx_sources = sorted(glob.glob(os.path.join(ROOT, "src", "hypersio", "**", "*.pyx"), recursive=True))
    if not pyx_sources:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        # An sdist carries the generated C, so Cython is only needed from a git checkout.
        c_sources = [os.path.splitext(p)[0] + ".c" for p in pyx_sources]
        missing = [c for c in c_sources if not os.path.exists(c)]
        if missing:
            sys.exit(
                "hypersio: Cython is not installed and the generated C files are missing "
                f"({', '.join(os.path.relpath(m, ROOT) for m in missing)}). Install Cython, or set "
                "HYPERSIO_NO_EXTENSIONS=1 to build the pure-Python package on purpose."
            )
        return [
            Extension(_module_name(c), [os.path.relpath(c, ROOT)], extra_compile_args=_cflags())
            for c in c_sources
        ]
    extensions = [
        Extension(_module_name(p), [os.path.relpath(p, ROOT)], extra_compile_args=_cflags())
        for p in pyx_sources
    ]
    return cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        quiet=True,
    )


def _cflags() -> list[str]:
    if sys.platform == "win32":
        return ["/O2"]
    return ["-O3"]


setup(ext_modules=[] if PURE_BUILD else _extensions())
