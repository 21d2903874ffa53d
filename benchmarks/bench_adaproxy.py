"""AdaProxy (Eq. 3.3) over a 50-value λ grid: l2o's jitted, vmapped FISTA against scipy.

    python benchmarks/bench_adaproxy.py [--target titan_rtx_1] [--k 60]

Proxy pixel3 (minimum-norm linear predictor on all of NB201), k measured archs on the target.
The baseline solves the same problem one λ at a time with scipy's L-BFGS-B (b split into two
non-negative parts), the straightforward way without cvxpy. Prints both solve times (after
compilation for l2o), the worst relative objective difference and, last line,
``50-lambda sweep vs scipy: <ratio>x``.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
from scipy import optimize

from experiments._setup import setup_jax
from l2o.data import get_space, load_latency
from l2o.predictors.features import min_norm_lstsq, operator_features
from l2o.proxy.adaproxy import adapt_proxy


def scipy_sweep(w, x, y, lams) -> np.ndarray:
    f, u = w.shape[0], x * w

    def solve(lam):
        def fun(z):
            r = u @ (z[0] + z[1 : 1 + f] - z[1 + f :]) - y
            g = 2 * u.T @ r / len(y)
            value = np.mean(r**2) + lam * z[1:].sum()
            return value, np.concatenate([[g.sum()], g + lam, -g + lam])

        z0 = np.concatenate([[1.0], np.zeros(2 * f)])
        bounds = [(None, None)] + [(0, None)] * (2 * f)
        return optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds).fun

    return np.array([solve(lam) for lam in lams])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="titan_rtx_1")
    parser.add_argument("--k", type=int, default=60)
    args = parser.parse_args()
    setup_jax()
    table = load_latency("nb201")
    x = np.asarray(operator_features(get_space("nb201"), table.archs), np.float64)
    w = min_norm_lstsq(x, table["pixel3"].astype(np.float64), 1e-10)
    rows = np.random.default_rng(0).choice(len(x), args.k, replace=False)
    xs, ys = x[rows], table[args.target][rows].astype(np.float64)
    lams = np.logspace(-4, 1, 50)
    jax.block_until_ready(adapt_proxy(w, xs, ys, lams))  # compile
    times = []
    for _ in range(5):
        start = time.perf_counter()
        ours = jax.block_until_ready(adapt_proxy(w, xs, ys, lams))
        times.append(time.perf_counter() - start)
    l2o_s = float(np.median(times))
    start = time.perf_counter()
    reference = scipy_sweep(w, xs, ys, lams)
    scipy_s = time.perf_counter() - start
    diff = (np.asarray(ours.objective) - reference) / np.abs(reference)
    print(f"l2o: 50 lambdas in {l2o_s * 1e3:.1f} ms; scipy L-BFGS-B: {scipy_s * 1e3:.0f} ms")
    print(f"objective, l2o relative to scipy: worst {diff.max():+.2e}, best {diff.min():+.2e}")
    print(f"50-lambda sweep vs scipy: {scipy_s / l2o_s:.1f}x")


if __name__ == "__main__":
    main()
