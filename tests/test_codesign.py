"""Co-design: methods against brute force, Proposition 2 on monotone tables, the experiment."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2o import codesign

ROOT = Path(__file__).resolve().parents[1]


def _tables(n_h=12, n_a=80, seed=0, monotone=True):
    rng = np.random.default_rng(seed)
    acc = rng.uniform(80, 95, n_a)
    base = np.exp(rng.normal(size=n_a)) + acc / 20  # accurate archs are slower
    speed = np.exp(rng.normal(size=n_h))[:, None]
    lat = speed * base[None, :]
    energy = (1 + rng.uniform(size=n_h))[:, None] * (base**1.1)[None, :]
    if not monotone:
        lat = lat * np.exp(rng.normal(0, 0.5, lat.shape))
    return acc, lat, energy


def _brute(acc, lat, energy, lmax, emax):
    best = (-np.inf, None, None)
    for h in range(lat.shape[0]):
        for a in range(lat.shape[1]):
            if lat[h, a] <= lmax and energy[h, a] <= emax and acc[a] > best[0]:
                best = (acc[a], a, h)
    return best


def test_coupled_is_the_brute_force_optimum():
    acc, lat, energy = _tables(monotone=False)
    for q in (0.2, 0.5, 0.8):
        lmax, emax = np.quantile(lat, q), np.quantile(energy, q)
        d = codesign.coupled(acc, lat, energy, lmax, emax)
        assert d.accuracy == _brute(acc, lat, energy, lmax, emax)[0]
        assert lat[d.accelerator, d.arch] <= lmax and energy[d.accelerator, d.arch] <= emax
        assert d.evaluations == lat.size
    nothing = codesign.coupled(acc, lat, energy, lat.min() / 2, np.inf)
    assert nothing.accuracy == -np.inf and nothing.arch is None


def test_semi_decoupled_recovers_the_optimum_from_any_proxy_under_monotonicity():
    acc, lat, energy = _tables()
    for c in codesign.constraints_from_target(lat[0], energy[0]):
        best = codesign.coupled(acc, lat, energy, c["latency"], c["energy"])
        for proxy in range(len(lat)):
            d, pool = codesign.semi_decoupled(acc, lat, energy, c["latency"], c["energy"], proxy)
            assert d.accuracy == best.accuracy
            assert d.evaluations == lat.shape[1] + (lat.shape[0] - 1) * len(pool)
            assert len(pool) < lat.shape[1] // 2


def test_decoupled_and_constraints():
    acc, lat, energy = _tables(monotone=False, seed=3)
    c = codesign.constraints_from_target(lat[0], energy[0], (0.0, 1.0))
    assert c[0]["latency"] == lat[0].min() and c[1]["energy"] == energy[0].max()
    d = codesign.decoupled(acc, lat, energy, np.inf, np.inf, proxy=2)
    assert d["hw_first"].accuracy == acc.max() == d["arch_first"].accuracy
    assert d["hw_first"].accelerator == 2 and d["hw_first"].evaluations == lat.shape[1]


def test_area_budget_excludes_accelerators():
    acc, lat, energy = _tables()
    allowed = np.zeros(len(lat), bool)
    allowed[5] = True
    d = codesign.coupled(acc, lat, energy, np.inf, np.inf, allowed)
    assert d.accelerator == 5


def test_mixed_dataflow_latency_sums_the_chosen_parts():
    rng = np.random.default_rng(0)
    parts = rng.uniform(size=(6, 10, 4))
    choices = rng.integers(0, 6, (7, 4))
    got = codesign.mixed_dataflow_latency(parts, choices)
    for m in range(7):
        want = sum(parts[choices[m, p], :, p] for p in range(4))
        np.testing.assert_allclose(got[m], want)


@pytest.mark.parametrize("space", ["nb301", "ofa_mbv3"])
def test_codesign_experiment_writes_its_contract(tmp_path, space):
    cmd = [
        sys.executable,
        "-m",
        "experiments.codesign",
        f"space={space}",
        "ofa_archs=200",
        "accelerators.per_dataflow=6",
        "mixed.mixtures=40",
        f"hydra.run.dir={tmp_path}",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["n_accelerators"] == 19 and len(s["constraints"]) == 3  # the target + 3 x 6
    assert s["coupled"]["evaluations"] == s["n_archs"] * s["n_accelerators"]
    for key in ("accuracy", "arch", "accelerator"):
        assert len(s["coupled"][key]) == len(s["semi_decoupled"][key]) == 3
    assert 0 <= s["semi_decoupled"]["proxy_recovery_rate"] <= 1
    assert set(s["decoupled"]) == {"arch_first", "hw_first"}
    for key in ("srcc_latency", "srcc_energy", "mixed_dataflow_srcc"):
        assert -1 <= s[key]["min"] <= s[key]["median"] <= 1
    for plot in ("srcc_latency", "srcc_energy", "srcc_cdf", "proxies", "designs"):
        assert (tmp_path / f"{plot}.png").stat().st_size > 1000
