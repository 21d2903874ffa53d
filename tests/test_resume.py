"""A training job killed mid-run resumes from its checkpoint when the same command is rerun and
ends with the numbers of an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "space=nb201",
    "ks=[10]",
    "repeats=1",
    "baselines=[flops]",
    "accuracy.n_train=200",
    "latency.members=1",
    "latency.episodes=64",
    "latency.fit.max_epochs=12",
    "latency.hidden=[16]",
    "latency.learned_features=4",
    "exploration.strategies=[random]",
    "exploration.rounds=1",
]


def _command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "experiments.train_predictors", *ARGS, f"hydra.run.dir={run_dir}"]


def _metrics(run_dir: Path) -> dict:
    s = json.loads((run_dir / "summary.json").read_text())
    return {"latency": s["latency"], "accuracy": s["accuracy"]["srcc"]}


def test_killed_training_resumes_and_matches_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_command(whole), cwd=ROOT, check=True, capture_output=True, timeout=600)
    proc = subprocess.Popen(
        _command(killed), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoints = killed / "checkpoints" / "latency"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        steps = [int(p.name) for p in checkpoints.glob("*") if p.name.isdigit()]
        if steps and max(steps) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the job ended before it could be killed"
    assert not (killed / "summary.json").exists()
    resumed = subprocess.run(
        _command(killed), cwd=ROOT, check=True, capture_output=True, text=True, timeout=600
    )
    assert "resum" in (resumed.stdout + resumed.stderr).lower()
    assert _metrics(killed) == _metrics(whole)
