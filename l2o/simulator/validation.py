"""The dataflow model against MAESTRO's real per-layer outputs (issue 7's acceptance check).

Each of MAESTRO's four layer-wise example runs (MobileNetV2 with KC-P at 256 PEs; ResNet50 with
KC-P at 256 and 1024 PEs and with YR-P at 256 PEs) is re-simulated layer by layer on an
accelerator with the run's PEs and dataflow, its reported NoC bandwidth (1024 elements per
cycle), buffers large enough for any layer (MAESTRO sizes its buffers to each layer and reports
the sizes) and an off-chip link as fast as the NoC (the runs report no off-chip stalls).
Reported per run: SRCC of per-layer runtime and energy and the distribution of the runtime
ratio ours / MAESTRO.

MAESTRO's energy column is not the layer's own energy. Its CSV writer sums, per layer,
``e_l2 · (input and weight L2 reads + writes, output L2 writes)`` from the top cluster level and
``e_l1 · (L1 reads + writes)`` from the innermost level, and scales by a MAC energy; it has no
MAC, DRAM or partial-sum L2 read term, and the L1 counts it uses are read before they are updated
for the current layer when the mapping has two cluster levels, so for such a layer the L1 term
is the previous layer's (the first layer's is zero). That reproduces every energy of the four
runs from their own access-count columns to within 4e-6:
``E_i = 0.904 · (18.61 · L2_i + 1.68 · L1_src(i))``, ``src(i) = i - 1`` for two-level mappings
and ``i`` for single-level ones (the KC-P runs' depthwise layers, mapped with MAESTRO's one-level
DPT dataflow; the YR-P run maps every layer with its two-level RS dataflow). So ``srcc_energy``
compares the column with our access counts put together the same way
(:func:`maestro_reported_energy`), and ``srcc_energy_model`` with our per-layer energy as is.
"""

from __future__ import annotations

import numpy as np

from l2o.data import MAESTRO_RUNS, load_maestro_run
from l2o.metrics import spearman
from l2o.simulator.dataflow import (
    MODEL,
    Accelerator,
    CostModel,
    access_counts,
    hw_table,
    layer_costs,
)

NOC_BW = 1024.0  # the runs' "NoC BW (Elements/cycle)"
UNBOUNDED = 2**30  # bytes: a buffer no layer fills


def run_accelerator(key: str) -> Accelerator:
    run = load_maestro_run(key)
    return Accelerator(
        run.num_pes,
        l1_bytes=UNBOUNDED,
        l2_bytes=UNBOUNDED,
        noc_bw=NOC_BW,
        offchip_bw=NOC_BW,
        dataflow=run.dataflow,
    )


def simulate_run(key: str, model: CostModel = MODEL) -> tuple[np.ndarray, np.ndarray]:
    """Our per-layer (cycles, energy in MAC units) for one MAESTRO run's layers."""
    run = load_maestro_run(key)
    cycles, energy, _ = layer_costs(run.dims, hw_table([run_accelerator(key)]), model)
    return np.asarray(cycles[0], np.float64), np.asarray(energy[0], np.float64)


def two_level(key: str) -> np.ndarray:
    """bool[n]: whether MAESTRO's mapping of each layer of a run has two cluster levels (every
    layer of the YR-P run; the dense layers of the KC-P runs, whose depthwise layers use DPT)."""
    run = load_maestro_run(key)
    return (run.dims[:, 7] == 0) | (run.dataflow == "yrp")


def maestro_reported_energy(key: str, model: CostModel = MODEL) -> np.ndarray:
    """Our access counts of one run's layers combined as MAESTRO's energy column combines its
    own (module docstring): ``e_l2 · (L2 - partial-sum reads) + e_l1 · L1_src``, in MAC units
    (MAESTRO's overall MAC-energy scale does not change a rank)."""
    run = load_maestro_run(key)
    counts = access_counts(run.dims, hw_table([run_accelerator(key)]), model)
    l1, l2, psum = (np.asarray(counts[n][0], np.float64) for n in ("l1", "l2", "psum_reads"))
    previous = np.concatenate([[0.0], l1[:-1]])
    return model.e_l2 * (l2 - psum) + model.e_l1 * np.where(two_level(key), previous, l1)


def validate(model: CostModel = MODEL) -> dict[str, dict]:
    """Per run: ``srcc_runtime``, ``srcc_energy`` (against :func:`maestro_reported_energy`),
    ``srcc_energy_model`` (against our per-layer energy), ``runtime_ratio`` {median, q10, q90,
    min, max} and the layer count."""
    out = {}
    for key in MAESTRO_RUNS:
        run = load_maestro_run(key)
        cycles, energy = simulate_run(key, model)
        ratio = cycles / run.runtime
        out[key] = {
            "layers": len(run.layers),
            "srcc_runtime": float(spearman(cycles, run.runtime)),
            "srcc_energy": float(spearman(maestro_reported_energy(key, model), run.energy)),
            "srcc_energy_model": float(spearman(energy, run.energy)),
            "runtime_ratio": {
                "median": float(np.median(ratio)),
                "q10": float(np.quantile(ratio, 0.1)),
                "q90": float(np.quantile(ratio, 0.9)),
                "min": float(ratio.min()),
                "max": float(ratio.max()),
            },
        }
    return out
