"""Imports point one way: no first-party import cycle, no ``_private`` name taken from another
module, imports at the top outside the command line, and each layer imports only layers
below it (docs/architecture.md draws the same picture).

Read from the source with ``ast``, never by importing it, so an import inside a function
counts like any other: hiding a cycle in a function body is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gate_drivers", "edge", "qr_registry", "sync")

# The layers, lowest first: a module may import its own layer and the layers below it.
# Longest prefix wins; a module of the edge/ root not named here is kernel.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("drivers", ("gate_drivers",)),
    ("kernel", ("edge",)),
    ("config", ("edge.config",)),
    ("recognisers", ("edge.faces", "edge.plates")),
    ("policy", ("edge.policy",)),
    ("people", ("edge.people",)),
    ("store", ("edge.store",)),
    ("sync and registry", ("sync", "qr_registry")),
    ("events", ("edge.events",)),
    ("gates", ("edge.gates",)),
    ("box", ("edge.box",)),
    ("web", ("edge.web",)),
    ("demo", ("edge.demo",)),
    ("cli", ("edge.cli",)),
)
RANK = {prefix: rank for rank, (_name, prefixes) in enumerate(LAYERS) for prefix in prefixes}

# Imports inside a function, outside the command line, each with the reason it is there.
LATE_IMPORTS = {
    ("sync.gat1400.faces", "edge.faces.configured"): "OpenCV and ONNX Runtime only in a sync "
    "worker that receives a face disposition",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the first-party module imported (a package's __init__ for a name in it)
    name: str | None  # the name taken with ``from target import name``, if not a module
    line: int
    in_function: bool


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def imports(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, in_function in _walk(tree, False):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    yield Import(module, _module_of(alias.name), None, node.lineno, in_function)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:
                    yield Import(module, full, None, node.lineno, in_function)
                else:
                    yield Import(module, _module_of(base), alias.name, node.lineno, in_function)


def _walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, in_function
        inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield from _walk(child, inner)


def _module_of(name: str) -> str:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    assert name, "first-party import of a module that does not exist"
    return name


GRAPH = [i for module, path in MODULES.items() for i in imports(module, path)]


def layer_of(module: str) -> int:
    name = module
    while name:
        if name in RANK:
            return RANK[name]
        name = name.rpartition(".")[0]
    raise AssertionError(f"{module} is in no layer")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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
                    found.append(sorted(component))
    return found


def test_the_graph_is_read():
    """The test sees what it should: every package, and imports of every kind."""
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert len(GRAPH) > 300
    assert any(i.in_function for i in GRAPH) and any(i.name for i in GRAPH)


def test_a_hidden_cycle_is_found():
    """The cycle finder itself: a cycle through three modules, beside a clean chain."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]


def test_no_first_party_import_cycle():
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    for i in GRAPH:
        if i.target != i.module:
            edges[i.module].add(i.target)
    found = cycles(edges)
    assert found == [], "\n".join(" -> ".join(c) for c in found)


def test_no_private_name_crosses_a_module_boundary():
    crossing = [
        f"{i.module}:{i.line} takes {i.name} from {i.target}"
        for i in GRAPH
        if i.name and i.name.startswith("_") and not i.name.startswith("__")
    ]
    assert crossing == [], "\n".join(crossing)


def test_imports_inside_functions_only_in_the_command_line():
    """An import in a function is for start-up speed in a CLI command, never to dodge a cycle
    (the cycle test counts it anyway); elsewhere it needs a reason in LATE_IMPORTS."""
    late = {
        f"{i.module}:{i.line} imports {i.target}"
        for i in GRAPH
        if i.in_function
        and not i.module.startswith("edge.cli")
        and (i.module, i.target) not in LATE_IMPORTS
    }
    assert late == set(), "\n".join(sorted(late))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_has_a_layer(module):
    layer_of(module)


def test_imports_point_down_the_layers():
    upward = sorted(
        f"{i.module} ({LAYERS[layer_of(i.module)][0]}) imports {i.target} "
        f"({LAYERS[layer_of(i.target)][0]})"
        for i in GRAPH
        if layer_of(i.target) > layer_of(i.module)
    )
    assert upward == [], "\n".join(upward)


def test_drivers_import_nothing_of_ours():
    assert [i for i in GRAPH if i.module.startswith("gate_drivers") and i.target.split(".")[0]
            != "gate_drivers"] == []  # fmt: skip


def test_config_opens_no_database_and_touches_no_hardware():
    allowed = ("edge.config", "edge.errors", "gate_drivers.pins", "gate_drivers.source_spec")
    wrong = [
        f"{i.module} imports {i.target}"
        for i in GRAPH
        if i.module.startswith("edge.config") and not i.target.startswith(allowed)
    ]
    assert wrong == [], "\n".join(wrong)


def test_a_package_face_is_never_imported_by_its_own_modules():
    """``edge/config/__init__.py`` re-exports; its submodules import each other directly."""
    wrong = [
        f"{i.module} imports its own package {i.target}"
        for i in GRAPH
        if i.module.startswith(i.target + ".") and MODULES[i.target].name == "__init__.py"
    ]
    assert wrong == [], "\n".join(wrong)
