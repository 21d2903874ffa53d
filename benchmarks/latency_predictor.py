"""Latency network: ensemble training time and prediction throughput against numpy.

    python benchmarks/latency_predictor.py [--epochs 3] [--members 5]

Trains the device-conditioned latency ensemble on HELP's 9 NB201 training devices (all 15625
archs), adapts it to the 6 test devices from 10 measurements each, then times predicting every
(architecture, device) pair: the jitted JAX forward against a plain numpy forward of the same
network and weights (the baseline). Last line: ``prediction throughput vs numpy: <ratio>x``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments._setup import setup_jax
from l2o.data.references import HELP_NB201_SPLIT
from l2o.predictors.evaluation import latency_setup
from l2o.predictors.latency import LatencyNetConfig, heads, predict
from l2o.predictors.latency_training import train_latency_net

SPLIT = HELP_NB201_SPLIT


def numpy_forward(params: dict, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Ensemble-mean latency [D, N] of the network in numpy: params of one member each."""
    out = np.zeros((w.shape[1], x.shape[0]))
    for m in range(w.shape[0]):
        p = jax.tree_util.tree_map(lambda a, m=m: np.asarray(a[m], np.float64), params)
        h = x
        i = 0
        while f"layers_{i}" in p:
            h = np.maximum(h @ p[f"layers_{i}"]["kernel"] + p[f"layers_{i}"]["bias"], 0.0)
            i += 1
        phi = np.concatenate([x, np.tanh(h @ p["out"]["kernel"] + p["out"]["bias"])], axis=1)
        out += w[m] @ phi.T
    return out / w.shape[0]


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--members", type=int, default=5)
    args = parser.parse_args()
    setup_jax()
    data, index, _ = latency_setup("nb201", SPLIT)
    base = LatencyNetConfig()
    config = dataclasses.replace(
        base, members=args.members, fit=dataclasses.replace(base.fit, max_epochs=args.epochs)
    )
    train = [index[n] for n in SPLIT.train]
    val = [index[n] for n in SPLIT.val]
    trained = train_latency_net(data, train, val, config)
    print(
        f"training: ensemble of {args.members}, {args.epochs} epochs of {config.episodes} "
        f"episodes on {len(train)} devices: {trained.seconds:.1f} s"
    )

    support = np.arange(0, 15625, 1562)[:10]
    hs = [heads(trained, data, index[d], support) for d in SPLIT.test]
    w = jnp.stack([h.w for h in hs], axis=1)  # [M, D, F]
    x = data.op_features

    @jax.jit
    def forward(params, w, x):  # every device at once: features once per member
        per_member = jax.vmap(lambda p, wm: predict(trained.net, p, hs[0]._replace(w=wm), x))
        return per_member(params, w).mean(0)

    fast = forward(trained.params, w, x)
    fast.block_until_ready()
    params = trained.params["params"]
    w_np, x_np = np.asarray(w, np.float64), np.asarray(x, np.float64)
    slow = numpy_forward(params, w_np, x_np)
    np.testing.assert_allclose(np.asarray(fast), slow, rtol=1e-3, atol=1e-3 * np.abs(slow).max())
    pairs = x.shape[0] * len(SPLIT.test)
    t_jax = best_of(lambda: forward(trained.params, w, x).block_until_ready())
    t_np = best_of(lambda: numpy_forward(params, w_np, x_np), repeats=3)
    print(
        f"pairs per call: {pairs} ({x.shape[0]} archs x {len(SPLIT.test)} devices, "
        f"ensemble of {args.members})"
    )
    print(f"jax:   {t_jax * 1e3:8.2f} ms  {pairs / t_jax:,.0f} pairs/s")
    print(f"numpy: {t_np * 1e3:8.2f} ms  {pairs / t_np:,.0f} pairs/s")
    print(f"prediction throughput vs numpy: {t_np / t_jax:.1f}x")


if __name__ == "__main__":
    main()
