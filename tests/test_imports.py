"""No import cycle inside the package, counting the imports written inside functions; and the README's module
map says what each module imports.

A function-level import hides a cycle from Python (it runs after both modules have loaded) but not from a
reader: two modules that need each other are one module in two files. The graph is built from the source
with `ast`, so it sees every import statement, whether it ever runs or not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("django_minio_backend", "cache_backends")


@dataclass(frozen=True)
class Edge:
    """`source` imports `target` at `where` (path:line)."""

    source: str
    target: str
    where: str


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of the packages by dotted name; a package is its `__init__.py`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _base(module: str, is_package: bool, level: int, written: str | None) -> str:
    """The absolute module a `from ... import` names: `level` dots counted from `module`'s package."""
    if level == 0:
        return written or ""
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    anchor = package[: len(package) - (level - 1)]
    return ".".join([*anchor, written] if written else anchor)


def imports_of(module: str, path: Path, modules: set[str], root: Path) -> Iterator[Edge]:
    """Each import of another module of the packages in `path`, at any depth (functions, methods, ifs)."""
    is_package = path.name == "__init__.py"
    shown = path.relative_to(root)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node.level, node.module)
            # `from pkg import name`: name is a submodule when one exists, else a name of pkg/__init__.py
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target in modules and target != module:
                yield Edge(module, target, f"{shown}:{node.lineno}")


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, list[Edge]]:
    """module -> the edges to the modules it imports, for every module of `packages` under `root`."""
    files = module_files(root, packages)
    return {module: list(imports_of(module, path, set(files), root)) for module, path in files.items()}


def strongly_connected(graph: dict[str, list[Edge]]) -> list[frozenset[str]]:
    """The groups of two or more modules that all reach each other through imports (Tarjan): each is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for edge in graph[module]:
            if edge.target not in index:
                visit(edge.target)
                low[module] = min(low[module], low[edge.target])
            elif edge.target in on_stack:
                low[module] = min(low[module], index[edge.target])
        if low[module] == index[module]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def find_cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """One cycle through each strongly connected group of modules, as the edges that close it."""
    return [_cycle_in(graph, group) for group in strongly_connected(graph)]


def _cycle_in(graph: dict[str, list[Edge]], group: frozenset[str]) -> list[Edge]:
    """A shortest cycle through the group's first module (breadth-first back to it)."""
    start = min(group)
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    for module in queue:
        for edge in graph[module]:
            if edge.target == start:
                return [*paths[module], edge]
            if edge.target in group and edge.target not in paths:
                paths[edge.target] = [*paths[module], edge]
                queue.append(edge.target)
    raise AssertionError(f"no cycle through {start}")  # cannot happen: the group is strongly connected


def describe(cycle: list[Edge]) -> str:
    return " -> ".join([cycle[0].source, *(f"{edge.target} ({edge.where})" for edge in cycle)])


def test_package_has_no_import_cycle() -> None:
    graph = import_graph()
    groups = strongly_connected(graph)
    cycles = [f"{describe(_cycle_in(graph, group))}; all of {sorted(group)} import each other" for group in groups]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# -- the graph builder itself, on a package written for the purpose ---------------------------------------
@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """a -> (in a function) b -> sub.c -> a: one cycle; sub.c also imports a name of pkg/__init__.py."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("A = 1\n")
    (package / "a.py").write_text("import json\n\n\ndef later():\n    from . import b\n")
    (package / "b.py").write_text("from pkg.sub import c\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("import pkg.a\nfrom .. import A\nimport json\n")
    return tmp_path


def test_graph_sees_function_level_relative_and_absolute_imports(sample: Path) -> None:
    graph = import_graph(sample, ("pkg",))
    assert {module: [edge.target for edge in edges] for module, edges in graph.items()} == {
        "pkg": [],
        "pkg.a": ["pkg.b"],  # inside a function; `from . import b` names the submodule
        "pkg.b": ["pkg.sub.c"],  # absolute `from pkg.sub import c`
        "pkg.sub": [],
        "pkg.sub.c": ["pkg.a", "pkg"],  # `import pkg.a`; `from .. import A` is a name of pkg/__init__.py
    }


def test_a_cycle_is_found_and_named(sample: Path) -> None:
    (cycle,) = find_cycles(import_graph(sample, ("pkg",)))
    assert describe(cycle) == "pkg.a -> pkg.b (pkg/a.py:5) -> pkg.sub.c (pkg/b.py:1) -> pkg.a (pkg/sub/c.py:1)"


# -- the README's module map is the living map: each line's "Imports:" is what the module imports ---------------
MAP_LINE = re.compile(r"^- `(?P<path>[\w/]+\.py)`: .*Imports: (?P<imports>[\w/, ]+)\.\s*$")


def module_map(readme: Path) -> dict[str, set[str]]:
    """Module (as the map names it: a path inside django_minio_backend/ without `.py`) -> what its line lists."""
    text = readme.read_text()
    start = text.index("### Module map")
    listed: dict[str, set[str]] = {}
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        found = MAP_LINE.match(line)
        if found:
            imports = found["imports"].strip()
            names = set() if imports == "nothing" else {name.strip() for name in imports.split(",")}
            path = found["path"].removesuffix(".py")
            listed[path.removesuffix("/__init__") if "/" in path else path] = names
    return listed


UNMAPPED = {"contrib", "management", "management/commands"}  # empty package markers


def test_the_readme_module_map_lists_what_each_module_imports() -> None:
    """A line of the map that says "Imports: a, b" for a module that imports c (or no longer imports b) misleads
    the reader it is written for. The map names modules by their path below django_minio_backend/ (a
    subpackage by its folder) and the URL cache backends as `cache_backends`; every module has a line."""
    package = "django_minio_backend"

    def short(module: str) -> str:
        if not module.startswith(package):
            return module.split(".")[0]  # cache_backends.*: one name in the map
        inner = module.removeprefix(package).lstrip(".")
        return inner.replace(".", "/") if inner else "__init__"

    graph = import_graph()
    listed = module_map(ROOT / "README.md")
    wrong = []
    for module, edges in graph.items():
        name = short(module)
        if not module.startswith(package) or name in UNMAPPED:
            continue
        if name not in listed:
            wrong.append(f"{name}: no line in the map")
            continue
        actual = {short(edge.target) for edge in edges} - {name}
        if actual != listed[name]:
            wrong.append(f"{name}: the map lists {sorted(listed[name])}, the code imports {sorted(actual)}")
    assert listed, "no module lines found under '### Module map'"
    assert not wrong, "README module map out of date:\n" + "\n".join(wrong)
