"""How well the main job's accuracy MLP picks among NB201's best archs, with latency known.

    python scripts/accuracy_mlp_top.py                     # the main job's settings
    python scripts/accuracy_mlp_top.py --batch 64 --patience 20   # the earlier settings

Fits the MLP on the whole CIFAR-100 table (a tenth held out for early stopping) per seed and
prints the epoch it stopped at, the SRCC of its predictions over the 200 most accurate archs,
and its regret when the latency is measured: for 9 budgets (latency quantiles 0.1-0.9) on each
of 5 devices, the best measured accuracy within the budget minus the measured accuracy of the
arch the MLP ranks first within it, averaged over the 45 budgets (points).
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import numpy as np

from l2o.data import get_space, load_latency, load_nb201_accuracy
from l2o.metrics import spearman
from l2o.pipeline.performance import PerformanceConfig
from l2o.predictors.accuracy import fit_accuracy_mlp

DEVICES = ("pixel3", "raspi4", "pixel2", "eyeriss", "gold_6226")


def regret(pred: np.ndarray, accuracy: np.ndarray, table) -> float:
    gaps = []
    for device in DEVICES:
        latency = np.asarray(table[device])
        for budget in np.quantile(latency, np.arange(1, 10) / 10):
            within = np.flatnonzero(latency <= budget)
            gaps.append(accuracy[within].max() - accuracy[within[np.argmax(pred[within])]])
    return float(np.mean(gaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    base = PerformanceConfig().accuracy_mlp
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=base.fit.batch_size)
    parser.add_argument("--patience", type=int, default=base.fit.patience)
    args = parser.parse_args()
    fit = dataclasses.replace(base.fit, batch_size=args.batch, patience=args.patience)
    config = dataclasses.replace(base, fit=fit)
    space, table = get_space("nb201"), load_latency("nb201")
    archs, accuracy = np.asarray(table.archs), np.asarray(load_nb201_accuracy("cifar100"))
    top = np.argsort(-accuracy)[:200]
    for seed in args.seeds:
        params, apply, info = fit_accuracy_mlp(jax.random.key(seed), space, archs, accuracy, config)
        pred = np.asarray(apply(params, archs))
        print(
            f"seed {seed}: stopped at epoch {info['best_epoch']}, top-200 SRCC "
            f"{spearman(pred[top], accuracy[top]):.3f}, regret "
            f"{regret(pred, accuracy, table):.3f} points"
        )


if __name__ == "__main__":
    main()
