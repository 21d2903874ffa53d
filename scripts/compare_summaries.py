"""Compare two ``summary.json`` files (or two run directories) leaf by leaf, timings aside.

    python scripts/compare_summaries.py <run or summary A> <run or summary B> [--rtol 0]

Keys naming a time (``seconds``, ``time``, ``speedup``, ``per_second``) are skipped. Exit 0 when
every other leaf is equal (floats within ``--rtol``), else 1, listing each differing leaf's
path with both values.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

TIMING = ("seconds", "time", "speedup", "per_second")


def _load(path: str) -> object:
    p = Path(path)
    return json.loads((p / "summary.json" if p.is_dir() else p).read_text())


def differences(a, b, rtol: float = 0.0, path: str = "") -> list[str]:
    """Paths (with both values) where ``a`` and ``b`` differ, timing keys skipped."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if any(t in key for t in TIMING):
                continue
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                out.append(f"{where}: only in {'B' if key not in a else 'A'}")
            else:
                out += differences(a[key], b[key], rtol, where)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [
            d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, rtol, f"{path}[{i}]")
        ]
    if (
        isinstance(a, float)
        and isinstance(b, float | int)
        or isinstance(b, float)
        and isinstance(a, int)
    ):
        same = a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol)
        return [] if same else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for floats")
    args = parser.parse_args()
    diffs = differences(_load(args.a), _load(args.b), args.rtol)
    for line in diffs:
        print(line)
    print(f"{'equal' if not diffs else f'{len(diffs)} leaves differ'}: {args.a} vs {args.b}")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
