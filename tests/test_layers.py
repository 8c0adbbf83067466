"""The package's structure: layers import downwards only, no import circle, no private name
imported from another module.

Layers, lowest first; a module may import from its own layer or from any layer below. The
order is the one README's "How the code is laid out" describes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

PACKAGE = "actiondesk"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE

LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("data",),
    ("actions",),
    ("editing", "fields", "permissions", "remote", "version"),
    ("selections", "services", "views"),
    ("catalog",),
    ("runs",),
    ("background", "exports"),
    ("approvals",),
    ("activity", "notifications"),
    ("execution", "settings"),
    ("http",),
    ("desk",),
    ("cli", "demo", "migrations"),
]
# Type-only references (``if TYPE_CHECKING:``) allowed to close a circle: the declaration
# types refer to each other (an Action has form fields, whose computed properties take a
# FormContext, which holds the Action). At run time none of them imports the others' module
# in a circle.
TYPE_ONLY_CIRCLES = {
    frozenset({"actiondesk.actions.context", "actiondesk.actions.forms",
               "actiondesk.actions.spec"}),
}


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # the package's __init__: the public API, above everything
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    return None


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)


@pytest.fixture(scope="module")
def runtime_graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=True)


def test_every_module_has_a_layer(graph: grimp.ImportGraph) -> None:
    unplaced = sorted(m for m in graph.modules if _layer_of(m) is None)
    assert not unplaced, f"add these to LAYERS in {__file__}: {unplaced}"


def test_imports_run_downwards_only(graph: grimp.ImportGraph) -> None:
    upward = []
    for importer in sorted(graph.modules):
        low = _layer_of(importer)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            high = _layer_of(imported)
            if low is not None and high is not None and high > low:
                upward.append(f"{importer} (layer {low}) imports {imported} (layer {high})")
    assert not upward, "imports that run back up a layer:\n" + "\n".join(upward)


def _circles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        work = [(node, iter(sorted(graph.find_modules_directly_imported_by(node))))]
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(
                        child)))))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == current:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def _describe(circles: Iterable[frozenset[str]]) -> str:
    return "\n".join(" <-> ".join(sorted(c)) for c in circles)


def test_no_import_circle_at_run_time(runtime_graph: grimp.ImportGraph) -> None:
    circles = _circles(runtime_graph)
    assert not circles, "import circles:\n" + _describe(circles)


def test_type_only_circles_are_the_known_ones(graph: grimp.ImportGraph) -> None:
    circles = [c for c in _circles(graph) if c not in TYPE_ONLY_CIRCLES]
    assert not circles, "import circles (counting TYPE_CHECKING imports):\n" + _describe(
        circles)


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(SOURCE)}: {alias.name} from {node.module}")
    return found


def test_no_private_name_imported_from_another_module() -> None:
    found = [
        problem
        for path in sorted(SOURCE.rglob("*.py"))
        if "migrations" not in path.parts
        for problem in _private_imports(path)
    ]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_modules_stay_small() -> None:
    """Over ~500 lines a module says why in its docstring (a line starting "Long:")."""
    long = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text()
        lines = text.count("\n")
        if lines > 520 and "\nLong: " not in text[:3000]:
            long.append(f"{path.relative_to(SOURCE)}: {lines} lines")
    assert not long, "modules over ~500 lines without a reason:\n" + "\n".join(long)
