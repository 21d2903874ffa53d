"""The roofline model against closed forms: element counts, the ridge point, memory- and
compute-bound layers, and the vectorised tables against a Python loop."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from l2o.data import get_space
from l2o.devices import get_device
from l2o.simulator.roofline import (
    RooflineDevice,
    flops_and_bytes,
    latency_ms,
    layer_table,
    layer_times,
    operational_intensity,
)
from l2o.spaces.base import Layer, conv

ROOT = Path(__file__).resolve().parents[1]


def test_layer_table_counts_by_hand():
    table = layer_table(
        [
            conv("c", 16, 32, 8, k=3),  # dense 3x3
            conv("dw", 16, 16, 8, k=3, s=2, g=16),  # depthwise, stride 2: 4x4 out
            Layer("p", "pool", 32, 32, 8, 2, 2),
        ]
    )
    np.testing.assert_array_equal(table[0], [64 * 32 * 16 * 9, 32 * 16 * 9, 16 * 64, 32 * 64])
    np.testing.assert_array_equal(table[1], [16 * 16 * 9, 16 * 9, 16 * 64, 16 * 16])
    np.testing.assert_array_equal(table[2], [0, 0, 32 * 64, 32 * 16])
    flops, nbytes = flops_and_bytes(table, bits=8)
    np.testing.assert_allclose(flops, 2 * table[:, 0])
    np.testing.assert_allclose(nbytes, table[:, 1:].sum(1))  # one byte per element
    np.testing.assert_allclose(operational_intensity(table, 8), 2 * table[:, 0] / nbytes)


def test_ridge_memory_bound_and_compute_bound_layers():
    table = layer_table([conv("c", 64, 64, 16, k=3), Layer("p", "pool", 64, 64, 16, 2, 2)])
    intensity = float(operational_intensity(table, 32)[0])
    at_ridge = RooflineDevice("ridge", peak_gflops=intensity * 10.0, bandwidth_gbs=10.0)
    assert at_ridge.ridge == pytest.approx(intensity)
    flops, nbytes = (
        np.asarray(flops_and_bytes(table, 32)[0]),
        np.asarray(flops_and_bytes(table, 32)[1]),
    )
    times, compute_bound = layer_times(table, [at_ridge], 32)
    # exactly at the ridge both roofs give the same time
    assert float(times[0, 0]) == pytest.approx(flops[0] / (intensity * 10e9), rel=1e-6)
    assert float(times[0, 0]) == pytest.approx(nbytes[0] / 10e9, rel=1e-6)
    # pooling does no MACs: memory-bound, time = bytes / bandwidth
    assert not bool(compute_bound[0, 1])
    assert float(times[0, 1]) == pytest.approx(nbytes[1] / 10e9, rel=1e-6)
    slow = RooflineDevice("slow", peak_gflops=1.0, bandwidth_gbs=1000.0)  # ridge 0.001
    fast = RooflineDevice("fast", peak_gflops=1e5, bandwidth_gbs=1.0)  # ridge 1e5
    times, compute_bound = layer_times(table, [slow, fast], 32)
    assert bool(compute_bound[0, 0]) and not bool(compute_bound[1, 0])
    assert float(times[0, 0]) == pytest.approx(flops[0] / 1e9, rel=1e-6)
    assert float(times[1, 0]) == pytest.approx(nbytes[0] / 1e9, rel=1e-6)
    half = RooflineDevice("half", 1.0, 1000.0, efficiency=0.5)
    assert float(latency_ms(table, [half])[0]) == pytest.approx(
        2 * float(latency_ms(table, [slow])[0])
    )


def test_vectorised_tables_equal_a_python_loop():
    space = get_space("nb201")
    archs = np.asarray(space.sample(jax.random.key(0), 5))
    tables = [layer_table(space.layers(a)) for a in archs]
    n = max(len(t) for t in tables)
    stacked = np.stack([np.pad(t, ((0, n - len(t)), (0, 0))) for t in tables])  # zero rows add 0
    devices = [RooflineDevice("a", 100.0, 10.0, 0.7), RooflineDevice("b", 5.0, 20.0)]
    got = np.asarray(latency_ms(stacked, devices, 16))
    for d, dev in enumerate(devices):
        for i, t in enumerate(tables):
            flops, nbytes = 2 * t[:, 0], t[:, 1:].sum(1) * 2
            ref = (
                sum(
                    max(
                        f / (dev.peak_gflops * 1e9 * dev.efficiency),
                        b / (dev.bandwidth_gbs * 1e9 * dev.efficiency),
                    )
                    for f, b in zip(flops, nbytes)
                )
                * 1e3
            )
            assert got[d, i] == pytest.approx(ref, rel=1e-5)


def test_a_batch_reuses_the_weights():
    table = layer_table([conv("c", 64, 128, 4, k=3)])  # weight-heavy: 73728 weights, 3072 acts
    one = RooflineDevice("b1", 1000.0, 1.0)  # memory-bound at batch 1
    big = RooflineDevice("b64", 1000.0, 1.0, batch_size=64)
    flops, nbytes = flops_and_bytes(table, 32, 64)
    np.testing.assert_allclose(flops, 64 * 2 * table[:, 0])
    np.testing.assert_allclose(nbytes, 4 * (table[:, 1] + 64 * (table[:, 2] + table[:, 3])))
    assert float(operational_intensity(table, 32, 64)[0]) > 10 * float(
        operational_intensity(table, 32)[0]
    )
    per_input = np.asarray(latency_ms(table, [one, big]))  # whole-batch time
    assert per_input[1] / 64 < per_input[0]


def test_spec_sheet_devices():
    with pytest.raises(ValueError, match="peak_gflops"):
        RooflineDevice.from_device(get_device("pixel3"))  # no FP32 peak on its spec sheet
    gpu = RooflineDevice.from_device(get_device("titan_rtx_32"))
    assert gpu.ridge == pytest.approx(gpu.peak_gflops / gpu.bandwidth_gbs) and gpu.batch_size == 32


def test_roofline_experiment_writes_its_contract(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.roofline",
        "space=ofa_mbv3",
        "archs=100",
        f"hydra.run.dir={tmp_path}",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["n_archs"] == 100 and set(s["archs"]) == {"flops", "bytes", "intensity"}
    d = s["devices"]["titan_rtx_1"]
    assert d["ridge"] == pytest.approx(d["peak_gflops"] / d["bandwidth_gbs"])
    assert 0 <= d["compute_bound_share"] <= 1 and d["regime"] in ("compute", "memory")
    assert (
        s["srcc"]["within_pairs"] + s["srcc"]["cross_pairs"]
        == len(s["devices"]) * (len(s["devices"]) - 1) // 2
    )
    assert (tmp_path / "roofline.png").stat().st_size > 1000
