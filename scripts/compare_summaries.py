"""Compare two runs' ``summary.json`` leaf by leaf, timings aside.

    python scripts/compare_summaries.py <a> <b> [--ignore PREFIX ...]

``a`` and ``b`` are summary files or run directories holding one. Leaves whose path has a key
containing "seconds", "time" or "per_second" are skipped (wall-clock numbers and throughputs
such as ``evals_per_second``), as is every path starting with
an ``--ignore`` prefix (e.g. ``config``). Exit 0 when every other leaf is equal (numbers exactly:
a behaviour-preserving change reproduces them bit for bit), else 1 after listing the differing
paths (``-`` only in a, ``+`` only in b, ``~`` both with different values).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TIMING = ("seconds", "time", "per_second")


def leaves(value, path: str = "") -> dict[str, object]:
    """Every leaf of a JSON value by its dotted path (list items as ``[i]``)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out |= leaves(item, f"{path}.{key}" if path else str(key))
        return out or {path: {}}
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out |= leaves(item, f"{path}[{i}]")
        return out or {path: []}
    return {path: value}


def _keys(path: str) -> list[str]:
    return [k.split("[")[0] for k in path.split(".")]


def timing(path: str) -> bool:
    return any(word in key for key in _keys(path) for word in TIMING)


def differences(a: dict, b: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """``"- path"``, ``"+ path"`` or ``"~ path: a != b"`` for each leaf that differs."""
    la, lb = leaves(a), leaves(b)
    out = []
    for path in sorted(set(la) | set(lb)):
        if timing(path) or any(path == p or path.startswith((p + ".", p + "[")) for p in ignore):
            continue
        if path not in lb:
            out.append(f"- {path}: {la[path]!r}")
        elif path not in la:
            out.append(f"+ {path}: {lb[path]!r}")
        elif la[path] != lb[path] or type(la[path]) is not type(lb[path]):
            out.append(f"~ {path}: {la[path]!r} != {lb[path]!r}")
    return out


def _summary(path: str) -> dict:
    p = Path(path)
    return json.loads((p / "summary.json" if p.is_dir() else p).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--ignore", action="append", default=[], metavar="PREFIX")
    args = parser.parse_args(argv)
    diff = differences(_summary(args.a), _summary(args.b), tuple(args.ignore))
    if diff:
        print(f"{len(diff)} leaves differ:", *diff, sep="\n")
        return 1
    print("equal (timings aside)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
