"""The benchmark and evaluation packages stand on the library: none of their modules imports
the CLI (lazily or not), and their imports of each other form no cycle."""

import ast
from pathlib import Path

import vigil

ROOT = Path(vigil.__file__).parent
PACKAGES = ("bench", "eval")


def _imports(path: Path) -> set[str]:
    """Every vigil module `path` imports, at the top, inside functions or under TYPE_CHECKING."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vigil"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)  # `from vigil.bench import x`
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("vigil"))
    return out


def _graph() -> dict[str, set[str]]:
    mods = {f"vigil.{pkg}.{p.stem}": p for pkg in PACKAGES for p in (ROOT / pkg).glob("*.py")
            if p.stem != "__init__"}
    return {m: _imports(p) for m, p in mods.items()}


def test_no_benchmark_or_evaluation_imports_the_cli():
    offenders = {m: sorted(i for i in deps if i.startswith("vigil.cli")) for m, deps in _graph().items()}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_benchmark_and_evaluation_modules_import_each_other_without_cycles():
    graph = _graph()
    edges = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in edges[m]:
            assert state.get(d) != 1, f"import cycle: {' -> '.join(path + [m, d])}"
            if d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in edges:
        if m not in state:
            visit(m, [])


def test_the_script_benchmarks_still_start():
    """onnx_batching runs as a module, bench/live_capacity.py as a script over vigil.bench."""
    import subprocess
    import sys

    repo = ROOT.parent
    for argv in ([sys.executable, "-m", "vigil.bench.onnx_batching", "--help"],
                 [sys.executable, str(repo / "bench" / "live_capacity.py"), "--help"]):
        out = subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "usage:" in out.stdout, out.stderr
