"""Gather a Hydra multirun into one table: ``python -m experiments.aggregate <multirun dir>``.

Every job directory under the sweep (``<dir>/<n>_<overrides>/``) holding a ``summary.json`` and
``.hydra/overrides.yaml`` becomes one row: its overrides (``+device=pixel3`` -> ``device``) and
every numeric leaf of its summary, flattened with dots (``objective_gap.mean``); lists are left
out. Rows are grouped by every override but ``--over`` (default ``seed``) and each metric is
reported as mean ± std over the group. Writes ``aggregate.csv`` (one row per job),
``aggregate.md`` (mean ± std per group for the ``--metrics`` given, default: every metric shared
by all jobs, at most 12) and ``aggregate.png`` (one bar chart per metric, error bars = std), all
in the multirun directory, and prints the markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import yaml


def flatten(tree, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(tree, bool):
        out[prefix[:-1]] = float(tree)
    elif isinstance(tree, int | float) and tree is not None:
        out[prefix[:-1]] = float(tree)
    return out


def read_jobs(root: Path) -> list[dict]:
    """[{"overrides": {name: value}, "metrics": {name: float}, "dir": path}] of every job."""
    jobs = []
    for summary in sorted(root.glob("*/summary.json")):
        overrides_file = summary.parent / ".hydra" / "overrides.yaml"
        if not overrides_file.exists():
            raise FileNotFoundError(f"{overrides_file}: missing; is {root} a Hydra multirun?")
        overrides = {}
        for item in yaml.safe_load(overrides_file.read_text()) or []:
            key, _, value = item.partition("=")
            overrides[key.lstrip("+~")] = value
        try:
            metrics = flatten(json.loads(summary.read_text()))
        except json.JSONDecodeError as e:
            raise ValueError(f"{summary}: not valid JSON ({e})") from e
        jobs.append({"overrides": overrides, "metrics": metrics, "dir": summary.parent})
    if not jobs:
        raise FileNotFoundError(f"no <job>/summary.json under {root}: run a multirun (-m) first")
    return jobs


def aggregate(jobs: list[dict], over: str = "seed", metrics: list[str] | None = None):
    """(keys, groups, metric names): groups maps a tuple of the other overrides' values to
    ``{metric: (mean, std, n)}``."""
    keys = sorted({k for j in jobs for k in j["overrides"]} - {over})
    shared = set.intersection(*(set(j["metrics"]) for j in jobs))
    if metrics:
        missing = [m for m in metrics if m not in shared]
        if missing:
            raise ValueError(
                f"metrics {missing} are not in every summary; some are: {sorted(shared)[:20]}"
            )
        names = list(metrics)
    else:
        names = sorted(m for m in shared if not m.endswith("seconds"))[:12]
    values: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for job in jobs:
        group = tuple(job["overrides"].get(k, "") for k in keys)
        for name in names:
            values[group][name].append(job["metrics"][name])
    groups = {
        g: {m: (float(np.mean(v)), float(np.std(v)), len(v)) for m, v in per.items()}
        for g, per in sorted(values.items())
    }
    return keys, groups, names


def markdown(keys, groups, names) -> str:
    head = "| " + " | ".join([*keys, "n", *names]) + " |"
    rule = "|" + "---|" * (len(keys) + 1 + len(names))
    rows = []
    for group, stats in groups.items():
        n = next(iter(stats.values()))[2] if stats else 0
        cells = [f"{stats[m][0]:.4g} ± {stats[m][1]:.2g}" for m in names]
        rows.append("| " + " | ".join([*group, str(n), *cells]) + " |")
    return "\n".join([head, rule, *rows])


def write(root: Path, jobs, keys, groups, names) -> None:
    all_keys = sorted({k for j in jobs for k in j["overrides"]})
    all_metrics = sorted({m for j in jobs for m in j["metrics"]})
    with open(root / "aggregate.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*all_keys, *all_metrics])
        for j in jobs:
            writer.writerow(
                [j["overrides"].get(k, "") for k in all_keys]
                + [j["metrics"].get(m, "") for m in all_metrics]
            )
    (root / "aggregate.md").write_text(markdown(keys, groups, names) + "\n")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    labels = ["/".join(g) or "all" for g in groups]
    for ax, name in zip(axes.flat, names):
        means = [groups[g][name][0] for g in groups]
        stds = [groups[g][name][1] for g in groups]
        ax.bar(range(len(groups)), means, yerr=stds, capsize=3)
        ax.set_xticks(range(len(groups)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(name, fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(root / "aggregate.png", dpi=130)
    plt.close(fig)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the multirun directory (hydra.sweep.dir)")
    parser.add_argument("--over", default="seed", help="the override averaged over (seed)")
    parser.add_argument("--metrics", nargs="*", help="dotted summary keys for the table")
    args = parser.parse_args(argv)
    jobs = read_jobs(args.root)
    keys, groups, names = aggregate(jobs, args.over, args.metrics)
    write(args.root, jobs, keys, groups, names)
    table = markdown(keys, groups, names)
    print(table)
    return table


if __name__ == "__main__":
    main()
