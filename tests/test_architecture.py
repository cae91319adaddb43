"""Issue 16: the package's layers stay acyclic. A test fails on any import cycle between modules
(module-level imports; an import inside a function runs on use and breaks no load order)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "imagewizard"


def module_graph(root: Path) -> dict[str, set[str]]:
    mods = {}
    for p in root.rglob("*.py"):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    graph: dict[str, set[str]] = {}
    for mod, p in mods.items():
        package = mod.split(".") if p.name == "__init__.py" else mod.split(".")[:-1]
        deps: set[str] = set()
        for top in ast.parse(p.read_text()).body:
            nodes = list(ast.walk(top)) if isinstance(top, (ast.If, ast.Try)) else [top]
            for n in nodes:
                if isinstance(n, ast.ImportFrom):
                    base = package[: len(package) - n.level + 1] if n.level else []
                    name = ".".join(base + ([n.module] if n.module else [])) if n.level else (n.module or "")
                    for a in n.names:
                        deps.add(f"{name}.{a.name}" if f"{name}.{a.name}" in mods else name)
                elif isinstance(n, ast.Import):
                    deps.update(a.name for a in n.names)
        graph[mod] = {d for d in deps if d in mods and d != mod}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep in path:
                cycles.append(path[path.index(dep) :] + [dep])
            elif dep not in done:
                visit(dep, path + [dep])
        done.add(node)

    for n in sorted(graph):
        if n not in done:
            visit(n, [n])
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_the_imports():
    g = module_graph(ROOT)
    assert "imagewizard.io.files" in g["imagewizard.io.reading"]
    assert "imagewizard.core.task" in g["imagewizard.tasks.deblur"]


def test_no_import_cycle_inside_the_package():
    cycles = find_cycles(module_graph(ROOT))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
