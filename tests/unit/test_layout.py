"""The shape of the package: no import cycle, small modules, a thin hooks module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "polywheel"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(path: Path) -> set[str]:
    """Modules of polywheel that `path` imports when it runs, at the top or inside a
    function (only `if TYPE_CHECKING:` blocks are left out), with the parent packages
    Python imports on the way."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        todo.extend(ast.iter_child_nodes(node))
    modules = {_module_name(p) for p in MODULES}
    with_parents = set()
    for name in found:
        parts = name.split(".")
        with_parents |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {name for name in with_parents if name in modules}


def _graph() -> dict[str, set[str]]:
    """Import edges. A module's own parent packages are left out: Python has already
    started importing them whenever the module itself is imported."""
    graph = {}
    for path in MODULES:
        name = _module_name(path)
        graph[name] = {t for t in _runtime_imports(path) if not name.startswith(t + ".")}
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target == node:
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    assert _find_cycle(_graph()) is None


def test_the_cycle_finder_finds_cycles() -> None:
    # The cycle the first release had: cli imported relabel, which imported cli.
    graph = {"polywheel.cli": {"polywheel.relabel"}, "polywheel.relabel": {"polywheel.cli"}}
    assert _find_cycle(graph) == ["polywheel.cli", "polywheel.relabel", "polywheel.cli"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def test_the_hooks_module_is_thin() -> None:
    assert len((PACKAGE / "build.py").read_text().splitlines()) <= 150
