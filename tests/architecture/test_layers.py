"""The shape of the package: the staircase of layers, no import cycle, no reach into private state.

These read the source tree (``src/hypersio``), so they need a checkout; an installed wheel has no
``.pyx``/``.pxd`` files and the tests skip there. import-linter checks the same layer order on
Python imports (``[tool.importlinter]`` in pyproject.toml); this module adds what it cannot see:
Cython ``cimport``s, cycles inside one layer, and attribute reads of another object's privates.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "hypersio"

pytestmark = pytest.mark.skipif(not PACKAGE.is_dir(), reason="needs the source tree")

_CIMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+cimport\s+([\w, ]+)|cimport\s+([\w.]+))", re.M)
_PYX_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+", re.M)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".pyx", ".pxd") and "__pycache__" not in path.parts:
            yield path


def all_modules() -> set[str]:
    return {module_name(p) for p in source_files()}


def python_imports(path: Path, known: set[str]) -> set[str]:
    """Every hypersio module ``path`` imports: module level, in functions, under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the project uses absolute imports)"
            assert node.module is not None
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found.update(submodules or {node.module})
    return {m for m in found if m.startswith("hypersio")}


def cython_imports(path: Path) -> tuple[set[str], set[str]]:
    """(cimported modules, imported modules) of a .pyx/.pxd file."""
    text = path.read_text()
    cimports = {m.group(1) or m.group(3) for m in _CIMPORT.finditer(text)}
    imports = {m.group(1) for m in _PYX_IMPORT.finditer(text)}
    return {n for n in cimports if n.startswith("hypersio")}, {n for n in imports if n.startswith("hypersio")}


def import_graph() -> dict[str, set[str]]:
    known = all_modules()
    graph: dict[str, set[str]] = {}
    for path in source_files():
        name = module_name(path)
        if path.suffix == ".py":
            deps = python_imports(path, known)
        else:
            cimports, imports = cython_imports(path)
            deps = cimports | imports
        graph.setdefault(name, set()).update(d for d in deps if d != name)
    return graph


def layer_order() -> list[list[str]]:
    """The layers of the import-linter contract, top first, each a list of module prefixes."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    return [[part.strip() for part in layer.split("|")] for layer in layers]


def layer_of(module: str, layers: list[list[str]]) -> int | None:
    for index, layer in enumerate(layers):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in layer):
            return index
    return None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycle_of_any_kind() -> None:
    # The root package's __init__ only re-exports lazily; an import of "hypersio" itself by a
    # submodule is an import of the face and is forbidden below the faces by the layer test.
    graph = import_graph()
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_every_import_and_cimport_goes_down_the_staircase() -> None:
    layers = layer_order()
    graph = import_graph()
    upward = []
    for module, deps in sorted(graph.items()):
        mine = layer_of(module, layers)
        for dep in sorted(deps):
            theirs = layer_of(dep, layers)
            if dep == "hypersio" and mine is not None and mine > 2:
                upward.append(f"{module} -> hypersio (the faces)")
            if mine is not None and theirs is not None and theirs < mine:
                upward.append(f"{module} -> {dep}")
    assert upward == []


def test_every_module_belongs_to_a_layer() -> None:
    layers = layer_order()
    faces = {"hypersio", "hypersio.__main__"}
    homeless = sorted(m for m in all_modules() if m not in faces and layer_of(m, layers) is None)
    assert homeless == []


# The top level is the public faces and the floor, each named here on purpose: a new module
# there is a new public face (API.md) or belongs in a layer folder.
TOP_LEVEL = {
    "__init__.py",
    "__main__.py",
    "cli.py",  # the package face and the command line
    "parser.py",
    "msgpack_parser.py",
    "eio_parser.py",
    "wsframe.py",  # the codec faces
    "cluster.py",
    "asgi.py",
    "admin.py",
    "metrics.py",  # the faces of issues 10 and 12
    "exceptions.py",
    "_speedups.py",  # the floor
}


def test_top_level_holds_only_faces_and_the_floor() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.suffix in (".py", ".pyx") and p.is_file()}
    assert top == TOP_LEVEL


def test_no_file_over_800_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in source_files() if (n := len(p.read_text().splitlines())) > 800}
    assert long == {}


def test_no_hand_written_stub_copies_of_compiled_twins() -> None:
    assert sorted(str(p.relative_to(SRC)) for p in PACKAGE.rglob("*.pyi")) == []


_OWN = {"self", "cls", "mcs"}


def private_reads_py(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__"):
            continue
        value = node.value
        if isinstance(value, ast.Name) and value.id in _OWN:
            continue
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
            continue
        if isinstance(value, ast.Name) and value.id in ("sys", "os", "asyncio", "socket", "typing", "msgpack"):
            continue  # documented underscore names of the standard library and of msgpack
        found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    return found


_PYX_PRIVATE = re.compile(r"(?<![\w.])(?!self\b|cls\b)([a-z_][a-z0-9_]*)\.(_[a-z][a-z0-9_]*)\b")


def private_reads_pyx(path: Path) -> list[str]:
    found = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        if code.lstrip().startswith(("from ", "cimport ", "import ")):
            continue
        code = re.sub(r"(\"[^\"]*\"|'[^']*')", "", code)
        for match in _PYX_PRIVATE.finditer(code):
            found.append(f"{path.relative_to(SRC)}:{lineno}: {match.group(0)}")
    return found


def test_no_module_reads_another_objects_private_attributes() -> None:
    found: list[str] = []
    for path in source_files():
        found += private_reads_py(path) if path.suffix == ".py" else private_reads_pyx(path)
    assert found == []


def test_import_linter_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).exists():
        pytest.skip("import-linter is not installed (pip install '.[lint]')")
    result = subprocess.run(
        [lint_imports, "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert ", 0 broken." in result.stdout, result.stdout[-4000:]
