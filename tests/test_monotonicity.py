"""The latency-monotonicity study (thesis §3.4) against scipy on the shipped data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from l2o.data import get_space, load_latency
from l2o.devices import get_device
from l2o.monotonicity.analysis import dense_ranks, kind_pair_means, monotonicity_study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def nb201_study():
    return monotonicity_study("nb201")


def test_nb201_pairs_match_scipy_and_the_expected_figures(nb201_study):
    devices, srcc = nb201_study["devices"], np.array(nb201_study["srcc"])
    table = load_latency("nb201")
    for a, b, expected in (("pixel3", "raspi4", 0.96675), ("pixel3", "eyeriss", 0.72165)):
        got = srcc[devices.index(a), devices.index(b)]
        assert got == pytest.approx(expected, abs=1e-4)
        assert got == pytest.approx(spearmanr(table[a], table[b])[0], abs=1e-6)
    assert len(devices) == 27 and srcc.shape == (27, 27)
    np.testing.assert_allclose(srcc, srcc.T, atol=1e-7)
    np.testing.assert_allclose(np.diag(srcc), 1.0, atol=1e-6)


def test_full_matrix_and_flops_equal_scipy(nb201_study):
    devices, srcc = nb201_study["devices"], np.array(nb201_study["srcc"])
    table = load_latency("nb201")
    lat = np.stack([table[d] for d in devices])
    np.testing.assert_allclose(srcc, spearmanr(lat, axis=1)[0], atol=1e-6)
    flops = get_space("nb201").macs(table.archs)
    for d in ("eyeriss", "fpga", "pixel2"):
        assert nb201_study["flops_srcc"][d] == pytest.approx(
            spearmanr(flops, table[d])[0], abs=1e-6
        )


def test_by_kind_is_the_mean_over_device_pairs(nb201_study):
    devices, srcc = nb201_study["devices"], np.array(nb201_study["srcc"])
    kinds = [get_device(d).kind for d in devices]
    gpus = [i for i, k in enumerate(kinds) if k == "desktop_gpu"]
    pairs = [srcc[i, j] for i in gpus for j in gpus if i < j]
    assert nb201_study["by_kind"]["desktop_gpu|desktop_gpu"] == pytest.approx(np.mean(pairs))
    assert kind_pair_means(np.eye(2), ["b", "a"]) == {"a|b": 0.0}


def test_dense_ranks_preserve_order_and_ties():
    x = np.array([1.0 + 1e-12, 1.0, 5.0, 1.0, 3.0])
    np.testing.assert_array_equal(dense_ranks(x), [1, 0, 3, 0, 2])  # float32 would merge 0 and 1


def test_subset_of_devices_and_unknown_device():
    study = monotonicity_study("fbnet", ["pixel3", "raspi4"])
    assert study["devices"] == ["pixel3", "raspi4"] and len(study["srcc"]) == 2
    with pytest.raises(KeyError, match="measured devices"):
        monotonicity_study("ofa_mbv3", ["pixel3"])


def test_experiment_writes_the_summary_contract(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.monotonicity",
            "space=nb201",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"space", "devices", "srcc", "flops_srcc", "by_kind"} <= set(summary)
    d = summary["devices"]
    assert summary["srcc"][d.index("pixel3")][d.index("raspi4")] == pytest.approx(0.96675, abs=1e-4)
    assert summary["srcc"][d.index("pixel3")][d.index("eyeriss")] == pytest.approx(
        0.72165, abs=1e-4
    )
    assert (tmp_path / "srcc_heatmap.png").stat().st_size > 10_000
