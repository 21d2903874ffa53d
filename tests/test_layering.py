"""The package's layers, read from its source with ``ast``: no import cycle, spaces do no I/O,
checkpoints store and do not train, and no module grows past 350 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "l2o"
MAX_LINES = 350
# the modules that train (or evaluate) networks; l2o/checkpoints.py may import none of them
TRAINING = (
    "l2o.training",
    "l2o.predictors",
    "l2o.optimizer",
    "l2o.bandit",
    "l2o.search",
    "l2o.proxy",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every l2o module ``name`` imports, at module level or inside functions.

    ``import a.b`` is an edge to ``a.b``; ``from a import b`` an edge to the module ``a.b`` when
    there is one, else to ``a`` (a package's ``__init__``); relative forms are resolved against
    the importing module's package.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                child = f"{source}.{alias.name}"
                out.add(child if child in MODULES else source)
    return {m for m in out if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_graph_reader_resolves_every_import_form(tmp_path):
    assert "l2o.training" in GRAPH["l2o.optimizer.network"]  # from l2o import parallel, training
    assert "l2o.spaces.base" in GRAPH["l2o.spaces.nb201"]  # from l2o.spaces.base import ...
    fake = tmp_path / "fake.py"
    fake.write_text(
        "from . import fitting\n"
        "from .. import checkpoints\n"
        "from ..spaces import Space\n"
        "import l2o.data.references\n"
        "def f():\n"
        "    from l2o.metrics import spearman\n"
    )
    assert _imports("l2o.predictors.fake", fake) == {
        "l2o.predictors.fitting",
        "l2o.checkpoints",
        "l2o.spaces",  # a package: its __init__
        "l2o.data.references",
        "l2o.metrics",  # imported inside a function
    }
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_is_acyclic():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _file_reads(tree: ast.AST) -> list[str]:
    """The calls in ``tree`` that read files: ``open``, ``np.load`` and the like, ``.read_*``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
            owner = getattr(getattr(f, "value", None), "id", "")
            numpy_read = owner == "np" and called in ("load", "loadtxt", "genfromtxt", "fromfile")
            if called == "open" or called.startswith("read_") or numpy_read:
                out.append(f"line {node.lineno}: {ast.unparse(f)}")
    return out


def test_spaces_do_no_io():
    probe = "np.load(p)\nPath(p).read_text()\nwith open(p) as f: pass\nread_npz('nb201', {})"
    assert len(_file_reads(ast.parse(probe))) == 4
    for name, path in MODULES.items():
        if name.startswith("l2o.spaces"):
            data = sorted(m for m in GRAPH[name] if m.startswith("l2o.data"))
            assert not data, f"{name} imports {data}"
            reads = _file_reads(ast.parse(path.read_text()))
            assert not reads, f"{name} reads files: {reads}"


def test_checkpoints_is_storage_only():
    bad = {m for m in GRAPH["l2o.checkpoints"] if m.startswith(TRAINING)}
    assert not bad, f"l2o/checkpoints.py imports training modules: {sorted(bad)}"


def _too_long(names) -> dict[str, int]:
    lines = {n: len(MODULES[n].read_text().splitlines()) for n in names}
    return {n: k for n, k in lines.items() if k > MAX_LINES}


def test_no_module_is_longer_than_350_lines():
    assert not _too_long(MODULES)
