"""No import cycle among the portal's own modules (issue #18 item 1).

A cycle hidden by a function-local import still ties the modules together: neither can be
understood, tested or moved without the other, and the import order decides which half is
half-initialised. So every `import` / `from ... import` counts, wherever it is in the file
(module level, inside a function, under `if TYPE_CHECKING`).

Why a walker of our own instead of grimp or import-linter: neither is installed here and
both need a compiled extension (grimp's Rust core, which import-linter uses); the rule
we check is small — edges between files of two trees, strongly connected components —
and reading the files with `ast` keeps every edge visible in one place. Edge rules:
`from pkg import name` points at `pkg.name` when that is a module, else at `pkg`;
`import a.b.c` points at `a.b.c`; relative imports are resolved against the importing
module; a name that is not one of our modules points at its nearest enclosing module. The
implicit import of a parent package (importing `a.b.c` runs `a/__init__.py`) is not an
edge: every module would otherwise depend on the app factory.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TREES = ("portal", "adapters")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for tree in TREES for p in sorted((ROOT / tree).rglob("*.py"))}


def _edges(name: str, path: Path, known) -> set[str]:
    """The modules `name` imports (see the module docstring for the rules)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.append(sub if sub in known else source)
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known:
                out.add(target)
    return out


def graph_of(known: dict[str, Path]) -> dict[str, set[str]]:
    return {name: _edges(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, and self-imports
    (Tarjan's algorithm, iterative: no recursion limit on a long chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    found.append(sorted(component))
    return sorted(found, key=lambda c: (-len(c), c))


def test_the_walker_sees_function_level_and_relative_imports(tmp_path):
    """The rules themselves, on a made-up tree: a cycle through a function-local import
    and a relative import is found; a plain chain is not."""
    pkg = tmp_path / "portal" / "demo"
    pkg.mkdir(parents=True)
    (tmp_path / "portal" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from portal.demo import a  # noqa\n")
    (pkg / "a.py").write_text("def f():\n    from portal.demo.b import g\n    return g\n")
    (pkg / "b.py").write_text("from . import c\n\ndef g():\n    from .a import f\n")
    (pkg / "c.py").write_text("import os\n")
    known = {}
    for path in sorted((tmp_path / "portal").rglob("*.py")):
        parts = list(path.relative_to(tmp_path).with_suffix("").parts)
        known[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = graph_of(known)
    assert graph["portal.demo.b"] == {"portal.demo.a", "portal.demo.c"}
    assert cycles(graph) == [["portal.demo.a", "portal.demo.b"]]


def test_no_import_cycle_among_portal_modules():
    found = cycles(graph_of(modules()))
    listing = "\n".join(f"  {len(c)}: " + " <-> ".join(c) for c in found)
    assert not found, f"{len(found)} import cycle(s), function-level imports included:\n" \
                      f"{listing}"
