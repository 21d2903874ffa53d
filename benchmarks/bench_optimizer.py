"""Designs per device: the optimizer network's one forward pass against one per-device search.

    python benchmarks/bench_optimizer.py [--device pixel3] [--steps 1000]

Both sides solve the same problem, the predicted objective of Eq. 1.8 on NB201 for an unseen
device adapted from 10 measurements: the baseline is the jit-compiled evolutionary search
(population 1000 x 50 generations, the thesis's) on that objective, one λ at a time; l2o's side is
one call of the optimizer network (forward pass and argmax), one best-of-16 call, and a batch
of 16384 designs in one call. Training quality does not enter the timing, so the network trains
briefly (``--steps``). Performance networks are cached under ``~/.cache/l2o/predictors``.
Last line: ``one design vs one search: <ratio>x``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments._setup import setup_jax
from l2o.data.references import HELP_NB201_SPLIT
from l2o.optimizer.network import OptimizerConfig, train
from l2o.pipeline import evaluation, performance

CACHE = Path.home() / ".cache" / "l2o" / "predictors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="pixel3")
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    setup_jax()
    perf = performance.performance_networks(
        "nb201", [args.device], HELP_NB201_SPLIT, cache_dir=CACHE
    )
    land = perf.landscape
    head = perf.head(args.device, performance.support_archs(len(land.archs), 10))
    target = evaluation.Target(jnp.asarray(head.w / head.scale), float(head.scale), None, None)
    optimizer = OptimizerConfig(method="method1", steps=args.steps)
    opt = train(jax.random.key(0), land, optimizer)
    config = evaluation.EvalConfig()
    us = np.linspace(*optimizer.log_lambda, 5)
    search = evaluation.search_baseline(jax.random.key(1), land, target, us, config)
    speed = evaluation.throughput(
        jax.random.key(0), opt, land, target, config, optimizer.log_lambda
    )
    one, best, batched = (
        speed["seconds_per_design"],
        speed["seconds_per_design_best_of_k"],
        speed["designs_per_second_batched"],
    )
    s = search["seconds_per_search"]
    print(f"one search (1000 x 50): {s * 1e3:.1f} ms")
    print(
        f"one design: {one * 1e6:.0f} us; best-of-{config.k}: {best * 1e6:.0f} us ({s / best:.0f}x)"
    )
    print(f"batched: {batched:.3g} designs/s ({s * batched:.3g}x one search per design)")
    print(f"one design vs one search: {s / one:.0f}x")


if __name__ == "__main__":
    main()
