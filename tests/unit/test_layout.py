"""The package's layout rules, read from the source with `ast` (nothing is imported).

An import counts where it runs: at module level or inside a function, but
not under ``if TYPE_CHECKING:`` (annotations only). ``from pkg import name``
counts as importing ``pkg.name`` when that is a module of ours, else ``pkg``.
Importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` too;
those edges are left out, or every module would sit in a cycle through
``crawler/__init__.py`` (which imports the engine to re-export it).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "crawler"
SUBPACKAGES = ("engine", "worker", "store", "cluster", "cli")
SHARED_LEAVES = ("config", "errors", "page", "urls", "policy", "select", "_internals", "warcrecord")


@dataclass(frozen=True)
class Import:
    """One import statement of a crawler module that reaches another crawler module."""

    source: str  # the importing module
    target: str  # the crawler module it imports
    line: int
    text: str  # the statement as written

    def __str__(self) -> str:
        path = ROOT.parent / (self.source.replace(".", "/") + ".py")
        if not path.exists():
            path = path.with_suffix("") / "__init__.py"
        return f"{path.relative_to(ROOT.parent)}:{self.line}: {self.text}  (-> {self.target})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that runs, whatever its depth, skipping ``if TYPE_CHECKING:`` bodies."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # the else branch does run
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The crawler modules ``node`` (in ``module``) imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in known]
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base not in known:
        return []
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def _imports() -> list[Import]:
    modules = _modules()
    known = set(modules)
    edges = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        for node in _runtime_imports(tree):
            text = (ast.get_source_segment(source, node) or "").replace("\n", " ")
            for target in dict.fromkeys(_resolve(name, path.name == "__init__.py", node, known)):
                if target != name:
                    edges.append(Import(name, target, node.lineno, text))
    return edges


IMPORTS = _imports()


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_parser_sees_the_package() -> None:
    # A guard for the rules below: they would pass on an empty graph.
    assert len(_modules()) > 40
    assert Import("crawler.engine.pool", "crawler.worker.serve", 0, "") in {
        Import(i.source, i.target, 0, "") for i in IMPORTS}
    assert any(i.source == "crawler.worker.tasks" and i.target == "crawler.worker.headers" for i in IMPORTS)


def _cycle(graph: dict[str, list[Import]]) -> list[Import] | None:
    """One import cycle of ``graph`` (as the imports that make it), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Import] = []

    def visit(module: str) -> list[Import] | None:
        state[module] = 1
        for edge in graph.get(module, []):
            if state.get(edge.target) == 1:
                start = next(i for i, e in enumerate(path + [edge]) if e.source == edge.target)
                return (path + [edge])[start:]
            if edge.target not in state:
                path.append(edge)
                found = visit(edge.target)
                if found:
                    return found
                path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_import_cycle() -> None:
    graph: dict[str, list[Import]] = {}
    for edge in IMPORTS:
        graph.setdefault(edge.source, []).append(edge)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle:\n  " + "\n  ".join(str(edge) for edge in cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    a = Import("crawler.a", "crawler.b", 1, "from . import b")
    b = Import("crawler.b", "crawler.a", 1, "from . import a")
    assert _cycle({"crawler.a": [a], "crawler.b": [b]}) == [a, b]
    assert _cycle({"crawler.a": [a]}) is None


def _violations(source_in: str | tuple[str, ...], forbidden: tuple[str, ...],
                allowed_sources: tuple[str, ...] = ()) -> list[str]:
    sources = (source_in,) if isinstance(source_in, str) else source_in
    return [str(edge) for edge in IMPORTS
            if any(_in(edge.source, s) for s in sources)
            and not any(_in(edge.source, a) for a in allowed_sources)
            and any(_in(edge.target, f) for f in forbidden)]


def _reach(start: str) -> dict[str, list[Import]]:
    """Every crawler module ``start`` loads at run time, with the chain of imports that gets there."""
    graph: dict[str, list[Import]] = {}
    for edge in IMPORTS:
        graph.setdefault(edge.source, []).append(edge)
    chains: dict[str, list[Import]] = {start: []}
    todo = [start]
    while todo:
        module = todo.pop()
        for edge in graph.get(module, []):
            if edge.target not in chains:
                chains[edge.target] = chains[module] + [edge]
                todo.append(edge.target)
    return chains


WORKER_MODULES = sorted(name for name in _modules() if _in(name, "crawler.worker"))


@pytest.mark.parametrize("module", WORKER_MODULES)
def test_workers_never_load_main_process_code(module: str) -> None:
    # Directly or through a shared module: a worker holds no main-process
    # state, and its imports stay cheap.
    forbidden = tuple(f"crawler.{name}" for name in ("engine", "store", "cluster", "cli"))
    bad = [f"{target}, through:\n    " + "\n    ".join(str(edge) for edge in chain)
           for target, chain in sorted(_reach(module).items()) if any(_in(target, f) for f in forbidden)]
    assert not bad, f"{module} imports " + "\n  ".join(bad)


def test_only_the_entry_point_imports_the_cli() -> None:
    bad = _violations("crawler", ("crawler.cli",), allowed_sources=("crawler.cli", "crawler.__main__"))
    assert not bad, "imports of crawler.cli outside it and crawler/__main__.py:\n  " + "\n  ".join(bad)


def test_shared_leaves_import_no_subpackage() -> None:
    leaves = tuple(f"crawler.{name}" for name in SHARED_LEAVES)
    bad = _violations(leaves, tuple(f"crawler.{name}" for name in SUBPACKAGES))
    assert not bad, "shared modules importing a subpackage:\n  " + "\n  ".join(bad)


def test_the_engine_never_imports_the_cli() -> None:
    bad = _violations("crawler.engine", ("crawler.cli",))
    assert not bad, "engine modules importing crawler.cli:\n  " + "\n  ".join(bad)
