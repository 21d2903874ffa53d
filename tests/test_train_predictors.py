"""The train_predictors experiment end to end on a small config: summary contract and plots."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_experiment_writes_the_summary_contract(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.train_predictors",
        "space=nb201",
        f"hydra.run.dir={tmp_path}",
        "ks=[0,10]",
        "repeats=1",
        "baselines=[linear,flops]",
        "accuracy.n_train=200",
        "latency.members=2",
        "latency.episodes=64",
        "latency.fit.max_epochs=1",
        "latency.hidden=[16]",
        "latency.learned_features=4",
        "exploration.strategies=[random,ucb]",
        "exploration.rounds=1",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in ("accuracy", "latency", "latency_mean", "baselines", "exploration", "train_seconds"):
        assert key in summary
    assert set(summary["accuracy"]) >= {"srcc", "rmse", "n_train"}
    assert summary["accuracy"]["srcc"] > 0.7
    test = summary["split"]["test"]
    assert set(summary["latency"]) == set(test) and set(summary["latency_mean"]) == {"0", "10"}
    assert summary["latency_mean"]["10"] > 0.9
    assert set(summary["latency"]["pixel2"]["10"]) == {"srcc", "mape"}
    assert "0" not in summary["baselines"]["linear"]["pixel2"]  # needs measurements
    assert [n for n, _ in summary["exploration"]["ucb"]] == [10, 20]
    for plot in ("predicted_vs_measured.png", "srcc_vs_k.png", "exploration.png"):
        assert (tmp_path / plot).stat().st_size > 1000
    assert (tmp_path / "checkpoints" / "latency").is_dir()
