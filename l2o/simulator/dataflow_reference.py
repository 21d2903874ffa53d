"""The dataflow cost model of :mod:`l2o.simulator.dataflow` for one layer on one accelerator,
in plain Python floats and branches instead of vectorised ``jnp``: the tests' oracle for the
jitted kernel and the benchmark's baseline (``benchmarks/bench_simulator.py``).
"""

from __future__ import annotations

import math

from l2o.simulator.dataflow import DPT, KCP, MODEL, YRP, CostModel


def reference_costs(row, acc, model: CostModel = MODEL) -> tuple[float, float]:
    """The same model for one layer on one accelerator, in plain Python floats: the tests'
    oracle and the benchmark's baseline. Returns (cycles, energy in MAC units)."""
    k, c, r, s, yo, xo, st, dw = (float(x) for x in row)
    p, l1, l2, noc, off, flow = (float(x) for x in acc)
    flow = int(flow)
    v = model.vector_width
    window = r * s
    c_loop = 1.0 if dw else c
    macs = yo * xo * k * window * c_loop
    if macs == 0:
        return 0.0, 0.0
    step, e_uni = None, 0.0
    if flow == DPT or dw:
        steps = math.ceil(c / p) * (1.0 if dw else k) * yo * xo
        work, e, mcast = window, r * st + 2 * window / (yo * xo), 1.0
        red = 1.0 if dw else math.ceil(c / p)
    elif flow == KCP:
        cl = min(model.kcp_cluster, p)
        n_k = math.floor(p / cl)
        steps = math.ceil(k / n_k) * math.ceil(c / cl) * yo * xo
        work, e, mcast, red = (
            window,
            r * st + 2 * window / (yo * xo),
            min(k, n_k),
            math.ceil(c / cl),
        )
    elif flow == YRP:
        kt = min(model.yrp_k_tile, k)
        folds = math.ceil(k / kt)
        rcl = min(r, p)
        n_y = math.floor(p / rcl)
        steps = math.ceil(yo / n_y) * math.ceil(r / rcl) * xo * c * folds
        e_uni = s * st / folds
        work, e, mcast, red = kt * s, kt * s + e_uni, min(yo, n_y), c
        step = math.ceil(kt / v) + model.yrp_io_cycles
    else:
        steps = math.ceil(xo / p) * k * c * yo
        work, e, mcast = window, s * st + 2 * window / yo, min(xo, p)
        red = 1.0 if yo <= l1 else c
    busy = macs / (steps * work)
    if step is None:
        step = max(math.ceil(e / v), math.ceil(work / v)) + 1
    deliveries = steps * busy * ((e - e_uni) / mcast + e_uni)
    weights = k * r * s * c_loop
    inputs = c * ((yo - 1) * st + r) * ((xo - 1) * st + s)
    outputs = k * yo * xo
    dram = weights + outputs + inputs * math.ceil(weights / max(l2 / 2, 1.0))
    cycles = max(steps * step, deliveries / noc, dram / off) + 1
    l1 = 4 * macs + steps * busy * e
    l2_access = deliveries + outputs * red + outputs * (red - 1) + dram
    energy = model.e_mac * macs + model.e_l1 * l1 + model.e_l2 * l2_access + model.e_dram * dram
    return cycles, energy
