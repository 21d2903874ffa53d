"""Evolutionary search speed: l2o's jitted search against an OFA-style EvolutionFinder loop.

    python benchmarks/bench_search.py [--seeds 1 2 3] [--vmapped 64]

OFA's tutorial setting on this machine: OFA-MobileNetV3 at the Note10 resolutions, OFA's
accuracy predictor, Note10 lookup-table latency <= 25 ms, population 1000 x 50 generations
(parent ratio 0.25, mutation ratio 0.25, mutation probability 0.1). The baseline is
``benchmarks/ofa_reference.py`` (EvolutionFinder's structure in Python/numpy, same predictors),
run in this process. Prints each seed's best design for both, the time of one search after
compilation, and of ``--vmapped`` searches in one vmapped call. Last line:
``one search vs OFA-style loop: <ratio>x``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from ofa_reference import run_reference

from experiments._setup import setup_jax
from l2o.objective import constrained
from l2o.predictors.lut import NOTE10_RESOLUTIONS, make_lut_latency
from l2o.predictors.ofa import make_ofa_accuracy
from l2o.search.evolution import EvolutionConfig, evolve, evolve_many
from l2o.spaces.ofa_mbv3 import OFAMobileNetV3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--vmapped", type=int, default=64)
    parser.add_argument("--constraint", type=float, default=25.0)
    args = parser.parse_args()
    setup_jax()
    space = OFAMobileNetV3(resolutions=NOTE10_RESOLUTIONS)
    acc_params, accuracy = make_ofa_accuracy(space)
    lut_params, latency = make_lut_latency(space)

    def fitness(limit, archs):
        acc, lat = accuracy(acc_params, archs), latency(lut_params, archs)
        return constrained(acc, lat, limit, penalty=1e3)[0]

    config = EvolutionConfig()
    limit = jnp.float32(args.constraint)

    def search(seed):
        result = evolve(fitness, limit, jax.random.key(seed), space.cardinalities, config)
        result.fitness.block_until_ready()
        return result

    search(0)  # compile
    ours, ofa = [], []
    for seed in args.seeds:
        times = []
        for _ in range(3):  # steady state: the best of three runs of the same search
            start = time.perf_counter()
            result = search(seed)
            times.append(time.perf_counter() - start)
        seconds = min(times)
        arch = result.arch[None]
        acc, lat = float(accuracy(acc_params, arch)[0]), float(latency(lut_params, arch)[0])
        ours.append(seconds)
        ref = run_reference(seed, args.constraint)
        ofa.append(ref.seconds)
        print(
            f"seed {seed}: l2o {acc:.3f} % at {lat:.2f} ms in {seconds:.3f} s | OFA-style "
            f"{ref.best_accuracy:.3f} % at {ref.best_latency_ms:.2f} ms in {ref.seconds:.2f} s "
            f"({ref.latency_evals} lookup-table queries)"
        )
    n = args.vmapped
    keys = jax.random.split(jax.random.key(0), n)
    limits = jnp.full(n, args.constraint, jnp.float32)
    evolve_many(fitness, limits, keys, space.cardinalities, config).fitness.block_until_ready()
    start = time.perf_counter()
    evolve_many(fitness, limits, keys, space.cardinalities, config).fitness.block_until_ready()
    many = time.perf_counter() - start
    one, ref_one = float(np.median(ours)), float(np.median(ofa))
    print(
        f"{n} vmapped searches: {many:.2f} s = {many / one:.1f}x one search "
        f"({jax.devices()[0].platform}, {jax.local_device_count()} device)"
    )
    print(f"one search: l2o {one:.3f} s, OFA-style {ref_one:.2f} s (medians over seeds)")
    print(f"one search vs OFA-style loop: {ref_one / one:.1f}x")


if __name__ == "__main__":
    main()
