"""The package layout's rules, checked on the source (AST), not by importing it.

Every ``import`` and ``from … import`` counts: at module level, inside functions and
under ``if TYPE_CHECKING:``. Importing ``a.b.c`` runs the ``__init__`` of ``a`` and
``a.b`` first, so it is an edge to each of those packages too (unless the importer is
inside them, when they are already being initialised): a package ``__init__`` that
re-exports from a module above it cannot hide a cycle. ``import_cycles(package_dir)``
is reusable for any package (knowledge, web).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.unit


def package_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package (``__init__`` is the package)."""
    base = package_dir.parent
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: n + 1]) for n in range(len(parts))]


def raw_imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement of a module."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target, [a.name for a in node.names], node.lineno


def import_graph(package_dir: Path) -> dict[str, dict[str, int]]:
    """module → {module of the same package it imports (or whose package it initialises): line}."""
    modules = package_modules(package_dir)
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for module, path in modules.items():
        running = set(_prefixes(module))  # packages already being initialised when this module runs
        for target, names, line in raw_imports(module, path):
            targets = [target]
            # ``from pkg import sub`` imports the submodule pkg.sub (after pkg's __init__).
            targets += [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            for t in targets:
                for step in _prefixes(t):
                    if step in modules and step not in running and step != module:
                        graph[module].setdefault(step, line)
    return graph


def import_cycles(package_dir: Path) -> list[list[str]]:
    """Every import cycle found in the package, each a path ``[a, b, …, a]`` (empty: none)."""
    graph = import_graph(package_dir)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    cycles.append(cycle)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def describe_cycle(package_dir: Path, cycle: list[str]) -> str:
    graph = import_graph(package_dir)
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in itertools.pairwise(cycle)]
    return "\n    ".join(steps)


def imports_of_package(package_dir: Path, top: str) -> list[tuple[str, str, int]]:
    """(module, imported name, line) for every import of ``top`` or ``top.*`` in the package."""
    found = []
    for module, path in package_modules(package_dir).items():
        for target, _names, line in raw_imports(module, path):
            if target == top or target.startswith(top + "."):
                found.append((module, target, line))
    return found


def test_knowledge_does_not_import_web() -> None:
    offending = [
        f"{module} line {line}: import {target}"
        for module, target, line in imports_of_package(ROOT / "knowledge", "web")
    ]
    assert not offending, "knowledge/ must not import web:\n  " + "\n  ".join(offending)


@pytest.mark.parametrize("name", ["knowledge", "web"])
def test_no_import_cycle_inside_a_package(name: str) -> None:
    package = ROOT / name
    cycles = import_cycles(package)
    assert not cycles, f"import cycles in {name}/:\n  " + "\n  ".join(describe_cycle(package, c) for c in cycles)


def test_scripts_import_nothing_from_tests() -> None:
    offending = [
        f"{module} line {line}: import {target}"
        for module, target, line in imports_of_package(ROOT / "scripts", "tests")
    ]
    assert not offending, "scripts/ must not import tests/:\n  " + "\n  ".join(offending)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_checker_sees_a_cycle_hidden_by_a_package_reexport(tmp_path: Path) -> None:
    # index/__init__ re-exports from pipeline, which imports retrieval, which imports a
    # submodule of index: importing retrieval first would fail half-way.
    pkg = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/index/__init__.py": "from pkg.pipeline import build\n",
            "pkg/index/files.py": "INDEX = 1\n",
            "pkg/pipeline.py": "from pkg.retrieval import rank\n\ndef build(): ...\n",
            "pkg/retrieval.py": "from pkg.index.files import INDEX\n\ndef rank(): ...\n",
        },
    )
    cycles = import_cycles(pkg)
    assert len(cycles) == 1
    assert set(cycles[0]) == {"pkg.index", "pkg.pipeline", "pkg.retrieval"}
    assert "pkg.retrieval (line 1) -> pkg.index" in describe_cycle(pkg, cycles[0])


def test_checker_counts_function_level_and_relative_imports(tmp_path: Path) -> None:
    pkg = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def f():\n    from pkg import b\n    return b\n",
            "pkg/b.py": "from . import c\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    assert [set(c) for c in import_cycles(pkg)] == [{"pkg.a", "pkg.b", "pkg.c"}]


def test_checker_allows_a_package_importing_its_own_modules(tmp_path: Path) -> None:
    pkg = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import x\n",
            "pkg/sub/__init__.py": "from pkg.sub.low import x\n",
            "pkg/sub/low.py": "x = 1\n",
            "pkg/sub/high.py": "from pkg.sub.low import x\nfrom pkg.sub import low\n",
        },
    )
    assert import_cycles(pkg) == []
