"""The dataflow model against MAESTRO's real per-layer outputs (issue 7's acceptance check).

Each of MAESTRO's four layer-wise example runs (MobileNetV2 with KC-P at 256 PEs; ResNet50 with
KC-P at 256 and 1024 PEs and with YR-P at 256 PEs) is re-simulated layer by layer on an
accelerator with the run's PEs and dataflow, its reported NoC bandwidth (1024 elements per
cycle), buffers large enough for any layer (MAESTRO sizes its buffers to each layer and reports
the sizes) and an off-chip link as fast as the NoC (the runs report no off-chip stalls).
Reported per run: SRCC of per-layer runtime and energy and the distribution of the runtime
ratio ours / MAESTRO.
"""

from __future__ import annotations

import numpy as np

from l2o.data import MAESTRO_RUNS, load_maestro_run
from l2o.metrics import spearman
from l2o.simulator.dataflow import MODEL, Accelerator, CostModel, hw_table, layer_costs

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


def validate(model: CostModel = MODEL) -> dict[str, dict]:
    """Per run: ``srcc_runtime``, ``srcc_energy``, ``runtime_ratio`` {median, q10, q90, min,
    max} and the layer count."""
    out = {}
    for key in MAESTRO_RUNS:
        run = load_maestro_run(key)
        cycles, energy = simulate_run(key, model)
        ratio = cycles / run.runtime
        out[key] = {
            "layers": len(run.layers),
            "srcc_runtime": float(spearman(cycles, run.runtime)),
            "srcc_energy": float(spearman(energy, run.energy)),
            "runtime_ratio": {
                "median": float(np.median(ratio)),
                "q10": float(np.quantile(ratio, 0.1)),
                "q90": float(np.quantile(ratio, 0.9)),
                "min": float(ratio.min()),
                "max": float(ratio.max()),
            },
        }
    return out
