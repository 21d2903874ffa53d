"""Sweeps: a joblib multirun over devices and seeds, and its aggregate table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import aggregate

ROOT = Path(__file__).resolve().parents[1]


def _job(root: Path, name: str, overrides: list[str], summary: dict) -> None:
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / "summary.json").write_text(json.dumps(summary))


def test_aggregate_means_and_stds_over_seeds(tmp_path):
    for i, (device, seed, gap) in enumerate([("a", 0, 1.0), ("a", 1, 3.0), ("b", 0, 5.0)]):
        summary = {"gap": {"mean": gap}, "ok": True, "curve": [1, 2], "seconds": 9.0}
        _job(tmp_path, f"{i}_x", [f"+device={device}", f"seed={seed}"], summary)
    table = aggregate.main([str(tmp_path)])
    assert "| device | n | gap.mean | ok |" in table
    assert "| a | 2 | 2 ± 1 | 1 ± 0 |" in table and "| b | 1 | 5 ± 0 | 1 ± 0 |" in table
    rows = (tmp_path / "aggregate.csv").read_text().splitlines()
    assert rows[0] == "device,seed,gap.mean,ok,seconds" and len(rows) == 4
    assert (tmp_path / "aggregate.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="not in every summary"):
        aggregate.main([str(tmp_path), "--metrics", "gap.max"])
    with pytest.raises(FileNotFoundError, match="multirun"):
        aggregate.main([str(tmp_path / "0_x")])


def test_joblib_multirun_over_devices_and_seeds_and_its_table(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.search",
        "-m",
        "+device=pixel3,raspi4",
        "seed=0,1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={tmp_path}",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    assert len(list(tmp_path.glob("*/summary.json"))) == 4
    table = aggregate.main([str(tmp_path), "--metrics", "optimum_hit_rate", "seconds_per_search"])
    lines = table.splitlines()
    assert lines[0].startswith("| device | n | optimum_hit_rate")
    assert {line.split(" | ")[0].strip("| ") for line in lines[2:]} == {"pixel3", "raspi4"}
    assert all(" | 2 | " in line for line in lines[2:])


def test_submitit_local_sweep_and_the_slurm_launcher_config(tmp_path):
    cmd = [sys.executable, "-m", "experiments.search", "-m", "+device=pixel3", "seed=0,1"]
    local = [*cmd, "hydra/launcher=local_jobs", f"hydra.sweep.dir={tmp_path}"]
    subprocess.run(local, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    assert len(list(tmp_path.glob("*/summary.json"))) == 2
    assert "| pixel3 | 2 |" in aggregate.main([str(tmp_path), "--metrics", "optimum_hit_rate"])
    shown = subprocess.run(
        [
            *cmd[:3],
            "+device=pixel3",
            "hydra/launcher=slurm",
            "--cfg",
            "hydra",
            "-p",
            "hydra.launcher",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "SlurmLauncher" in shown and "gpus_per_node: 1" in shown
