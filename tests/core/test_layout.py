"""The layout rules of the tree, checked on the source: library code never imports the CLI,
and no two modules import each other (directly or round a loop), lazy and type-checking
imports included: they hide a cycle from Python, not from the next engineer."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2] / "vigil"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """vigil modules imported anywhere in the file (type-checking-only imports too: a loop
    that only the type checker sees is still a loop in the design)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("vigil")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            if base.startswith("vigil"):
                out.add(base)
    return out


def graph() -> nx.DiGraph:
    mods = {module_name(p): p for p in ROOT.rglob("*.py")}
    g = nx.DiGraph()
    for name, path in mods.items():
        g.add_node(name)
        for target in imports(path):
            while target not in mods and "." in target:  # `from vigil.x import name`: the module is vigil.x
                target = target.rpartition(".")[0]
            if target in mods and target != name:
                g.add_edge(name, target)
    return g


def test_library_code_never_imports_the_cli():
    g = graph()
    bad = [(a, b) for a, b in g.edges
           if b.startswith("vigil.cli") and not a.startswith(("vigil.cli", "vigil.__main__"))]
    assert not bad, bad


def test_no_import_cycles():
    g = graph()
    # a package's __init__ re-exporting its own modules (and they importing their package) is
    # how a package shows its API, not a loop between rooms
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".") or a.startswith(b + ".")])
    cycles = list(nx.simple_cycles(g))
    assert not cycles, sorted(cycles, key=len)[:10]
