"""The dataflow model against MAESTRO's real per-layer outputs (the simulator's acceptance check).

Each of MAESTRO's four layer-wise example runs (MobileNetV2 with KC-P at 256 PEs; ResNet50 with
KC-P at 256 and 1024 PEs and with YR-P at 256 PEs) is re-simulated layer by layer on an
accelerator with the run's PEs and dataflow, its reported NoC bandwidth (1024 elements per
cycle), buffers large enough for any layer (MAESTRO sizes its buffers to each layer and reports
the sizes) and an off-chip link as fast as the NoC (the runs report no off-chip stalls).
Reported per run: SRCC of per-layer runtime, energy and L1 / L2 accesses and the distribution
of the runtime ratio ours / MAESTRO.

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
(:func:`maestro_reported_energy`).

The per-layer comparison takes MAESTRO's own count columns (shipped in ``maestro.npz``,
:attr:`l2o.data.MaestroRun.accesses`) and recomputes its energy with each layer's own L1 term,
``src(i) = i`` (:func:`maestro_layer_energy`; identical layers then get identical energies).
``srcc_energy_layer`` compares it with our counts by the same formula, ``srcc_energy_model``
with our model's per-layer energy (MAC, L1, L2 and DRAM terms, :func:`simulate_run`);
``srcc_l1`` and ``srcc_l2`` our L1 / L2 access counts with MAESTRO's (reads + writes of
inputs, weights and outputs, partial-sum reads included). The ``src(i) = i - 1`` rule applied
to the same columns reproduces the reported column (a test), so the bookkeeping finding rests
on the data alone.
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
# MAESTRO's energy of one L1 and one L2 access (in MAC energies) and of a MAC (nJ in its column)
MAESTRO_E_L1, MAESTRO_E_L2, MAESTRO_E_MAC = 1.68, 18.61, 0.904


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


def maestro_reported_energy(key: str, model: CostModel = MODEL, as_reported=True) -> np.ndarray:
    """Our access counts of one run's layers combined by MAESTRO's energy formula (module
    docstring): ``e_l2 · (L2 - partial-sum reads) + e_l1 · L1_src``, in MAC units (MAESTRO's
    overall MAC-energy scale does not change a rank); ``src(i)`` as its CSV writer takes it
    (``as_reported``) or each layer's own L1 (``i``)."""
    run = load_maestro_run(key)
    counts = access_counts(run.dims, hw_table([run_accelerator(key)]), model)
    l1, l2, psum = (np.asarray(counts[n][0], np.float64) for n in ("l1", "l2", "psum_reads"))
    if as_reported:
        l1 = np.where(two_level(key), np.concatenate([[0.0], l1[:-1]]), l1)
    return model.e_l2 * (l2 - psum) + model.e_l1 * l1


def maestro_counts(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAESTRO's own per-layer access counts of one run (its CSV's count columns,
    :attr:`~l2o.data.MaestroRun.accesses`), float64[n] each: L1 (reads + writes of inputs,
    filters and outputs), L2 as its energy column takes them (input and filter reads + writes,
    output writes) and the partial-sum L2 reads ("output l2 read") it leaves out."""
    run = load_maestro_run(key)
    l1 = sum(run.access(operand, "l1") for operand in ("input", "filter", "output"))
    l2 = run.access("input", "l2") + run.access("filter", "l2")
    l2 = l2 + run.access("output", "l2", "write")
    psum = run.access("output", "l2", "read")
    return tuple(np.asarray(x, np.float64) for x in (l1, l2, psum))


def maestro_layer_energy(key: str, as_reported: bool = False) -> np.ndarray:
    """MAESTRO's per-layer energy (nJ, its column's unit) recomputed from its own access counts
    (:func:`maestro_counts`) with each layer's own L1 term: ``0.904 · (18.61 · L2_i + 1.68 ·
    L1_i)``. ``as_reported`` applies its CSV writer's rule instead (``L1_src(i)``: the previous
    layer's L1 term for a two-level mapping, :func:`two_level`), which reproduces the energy
    column to within 5e-6 (a test)."""
    l1, l2, _ = maestro_counts(key)
    if as_reported:
        l1 = np.where(two_level(key), np.concatenate([[0.0], l1[:-1]]), l1)
    return MAESTRO_E_MAC * (MAESTRO_E_L2 * l2 + MAESTRO_E_L1 * l1)


def validate(model: CostModel = MODEL) -> dict[str, dict]:
    """Per run: ``srcc_runtime``; ``srcc_energy`` (MAESTRO's energy column against
    :func:`maestro_reported_energy`); ``srcc_energy_layer`` (MAESTRO's own per-layer energy,
    :func:`maestro_layer_energy`, against our counts by the same formula); ``srcc_energy_model``
    (the same against our per-layer energy, MAC and DRAM terms included); ``srcc_l1`` and
    ``srcc_l2`` (our L1 / L2 accesses against MAESTRO's, reads + writes of every operand,
    partial-sum reads included);
    ``runtime_ratio`` {median, q10, q90, min, max} and the layer count."""
    out = {}
    for key in MAESTRO_RUNS:
        run = load_maestro_run(key)
        cycles, energy = simulate_run(key, model)
        counts = access_counts(run.dims, hw_table([run_accelerator(key)]), model)
        l1, l2 = (np.asarray(counts[n][0], np.float64) for n in ("l1", "l2"))
        theirs_l1, theirs_l2, theirs_psum = maestro_counts(key)
        ratio = cycles / run.runtime
        ours_by_layer = maestro_reported_energy(key, model, as_reported=False)
        theirs_by_layer = maestro_layer_energy(key)
        out[key] = {
            "layers": len(run.layers),
            "srcc_runtime": float(spearman(cycles, run.runtime)),
            "srcc_energy": float(spearman(maestro_reported_energy(key, model), run.energy)),
            "srcc_energy_layer": float(spearman(ours_by_layer, theirs_by_layer)),
            "srcc_energy_model": float(spearman(energy, theirs_by_layer)),
            "srcc_l1": float(spearman(l1, theirs_l1)),
            "srcc_l2": float(spearman(l2, theirs_l2 + theirs_psum)),
            "runtime_ratio": {
                "median": float(np.median(ratio)),
                "q10": float(np.quantile(ratio, 0.1)),
                "q90": float(np.quantile(ratio, 0.9)),
                "min": float(ratio.min()),
                "max": float(ratio.max()),
            },
        }
    return out
