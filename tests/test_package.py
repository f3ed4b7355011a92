"""The package as users meet it: the twin switch, HAS_SPEEDUPS, the public names, the CI files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hypersio
from hypersio import _speedups

ROOT = Path(__file__).resolve().parent.parent


def _run_python(code: str, **env: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSIO_")}
    full_env.update(env)
    result = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_no_extensions_env_selects_every_pure_twin() -> None:
    out = _run_python(
        "import importlib, hypersio\n"
        "from hypersio import _speedups\n"
        "selectors = [importlib.import_module(s) for _, s in _speedups.FAMILIES.values()]\n"
        "print(hypersio.HAS_SPEEDUPS, *(m.IMPLEMENTATION for m in selectors))",
        HYPERSIO_NO_EXTENSIONS="1",
    )
    flag, *implementations = out.split()
    assert flag == "False"
    assert implementations == [f"{base}_py" for base, _ in _speedups.FAMILIES.values()]


def test_the_faces_re_export_their_selected_twin() -> None:
    from hypersio import eio_parser, msgpack_parser, parser, wsframe
    from hypersio.protocol.engineio import packets
    from hypersio.protocol.socketio import json_codec, msgpack_codec
    from hypersio.protocol.websocket import frames

    for face, selector in (
        (parser, json_codec),
        (msgpack_parser, msgpack_codec),
        (eio_parser, packets),
        (wsframe, frames),
    ):
        assert face.IMPLEMENTATION == selector.IMPLEMENTATION
        assert face.__all__ == selector.__all__
        for name in face.__all__:
            assert getattr(face, name) is getattr(selector, name), (face.__name__, name)


def test_has_speedups_matches_the_selected_modules() -> None:
    import importlib

    selected = [importlib.import_module(selector).IMPLEMENTATION for _, selector in _speedups.FAMILIES.values()]
    all_compiled = all(name.endswith("_c") for name in selected)
    assert hypersio.HAS_SPEEDUPS is all_compiled
    if _speedups.REQUIRE_EXTENSIONS:
        # CI builds the package with pip: a build that silently lost its extensions fails here.
        assert hypersio.HAS_SPEEDUPS is True, selected


def test_require_extensions_turns_a_missing_module_into_an_import_error() -> None:
    code = (
        "from hypersio import _speedups\n"
        "_speedups.FAMILIES['nothing'] = ('hypersio._no_such_codec', 'hypersio._no_such_selector')\n"
        "try:\n"
        "    _speedups.load('nothing')\n"
        "except ImportError as exc:\n"
        "    print('ImportError', exc.name)\n"
    )
    assert _run_python(code, HYPERSIO_REQUIRE_EXTENSIONS="1") == "ImportError hypersio._no_such_codec_c"


def test_public_names_of_the_api_contract_exist() -> None:
    for name in ("ParseError", "ConnectError", "AckTimeoutError", "HAS_SPEEDUPS", "parser", "msgpack_parser"):
        assert hasattr(hypersio, name), name
    with pytest.raises(AttributeError):
        hypersio.no_such_name  # noqa: B018


def test_connect_error_carries_message_and_data() -> None:
    err = hypersio.ConnectError("Not authorized", {"code": 42})
    assert (err.message, err.data, str(err)) == ("Not authorized", {"code": 42}, "Not authorized")


def test_package_is_typed() -> None:
    assert (Path(hypersio.__file__).parent / "py.typed").exists()
