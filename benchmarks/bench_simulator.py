"""The dataflow accelerator model: jitted, vectorised jnp against a Python loop of the same model.

    python benchmarks/bench_simulator.py [--archs 2000] [--accelerators 100]

Layer tables of ``--archs`` NB201 architectures (dense, padded) on ``--accelerators`` from the
thesis's accelerator grid, all four dataflows' formulas evaluated in one call; the baseline is
``reference_costs``, the same model for one layer on one accelerator in plain Python floats,
looped over a slice of the same tables (its rate does not depend on the slice). Also times all
15625 NB201 archs on the accelerators through bags of layers. Prints both rates, the worst
relative difference between the two and, last line,
``layer x accelerator evaluations vs a Python loop: <ratio>x``.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from experiments._setup import setup_jax
from l2o.data import get_space
from l2o.simulator.dataflow import hw_table, layer_costs, space_tables
from l2o.simulator.dataflow_reference import reference_costs
from l2o.simulator.synthetic import AcceleratorGrid, accelerator_devices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=2000)
    parser.add_argument("--accelerators", type=int, default=100)
    args = parser.parse_args()
    setup_jax()
    space = get_space("nb201")
    archs = np.asarray(space.enumerate())
    accelerators = AcceleratorGrid().sample(args.accelerators, seed=0)
    hw = hw_table(accelerators)
    dense = space_tables(space, archs[: args.archs])
    real = int((dense[..., 0] > 0).sum()) * len(hw)
    jax.block_until_ready(layer_costs(dense, hw))  # compile
    times = []
    for _ in range(5):
        start = time.perf_counter()
        cycles, energy, _ = jax.block_until_ready(layer_costs(dense, hw))
        times.append(time.perf_counter() - start)
    ours = real / float(np.median(times))

    rows = dense[:20].reshape(-1, dense.shape[-1])
    rows = rows[rows[:, 0] > 0]
    start = time.perf_counter()
    loop = np.array([[reference_costs(r, a) for r in rows] for a in hw])
    baseline = loop.shape[0] * loop.shape[1] / (time.perf_counter() - start)
    flat = np.asarray(cycles[:, :20]).reshape(len(hw), -1)
    flat = flat[:, dense[:20].reshape(-1, dense.shape[-1])[:, 0] > 0]
    worst = float(np.max(np.abs(flat / loop[..., 0] - 1)))

    start = time.perf_counter()
    accelerator_devices(space, archs, accelerators)
    whole = time.perf_counter() - start
    print(f"jnp: {ours:.3g} layer x accelerator evaluations/s ({real:.3g} in one call)")
    print(f"Python loop of the same model: {baseline:.3g}/s; worst cycle difference {worst:.1e}")
    print(f"all {len(archs)} NB201 archs on {len(hw)} accelerators: {whole:.2f} s")
    print(f"layer x accelerator evaluations vs a Python loop: {ours / baseline:.0f}x")


if __name__ == "__main__":
    main()
