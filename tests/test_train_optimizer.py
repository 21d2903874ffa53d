"""The main job, HELP's Table 4 and designing for a device, end to end, in-process on tiny
configs (the Hydra apps are thin: their configs are checked in test_configs.py)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2o import config as schema
from l2o.data import get_space, load_latency
from l2o.devices import get_device
from l2o.measurements import read_measurements
from l2o.optimizer.model import load_model
from l2o.pipeline.design import DesignConfig, design_for_device
from l2o.pipeline.help_table import HelpTableConfig, run_help_table
from l2o.pipeline.main_job import MainJobConfig, run_main_job
from l2o.pipeline.summary import HelpTableSummary, MainJobSummary, keys
from l2o.predictors.features import spec_features

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "performance": {
        "latency": {"fit": {"max_epochs": 0}},
        "accuracy_archs": 1000,
        "accuracy_members": 2,
    },
    "optimizer": {"steps": 300, "labels": 1024},
    "evaluation": {"n_lambda": 5, "budget_quantiles": [0.3, 0.6, 0.9], "timing_batch": 1024},
}
# what must not change when the same seed runs again (timings may)
STABLE = ("objective_gap", "hypervolume_ratio", "budget", "violation_rate", "ablations")


def without_seconds(value):
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return value


def readme_design_snippet() -> str:
    """The first python block under the README's "Design for your own device" heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split("Design for your own device", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_main_job_contract_rerun_and_design(tmp_path):
    config = schema.build(
        MainJobConfig, {"device": "fpga", "cache_dir": str(tmp_path / "cache"), **TINY}
    )
    first, second = tmp_path / "a", tmp_path / "b"
    run_main_job(config, first)
    s = json.loads((first / "summary.json").read_text())
    assert tuple(s) == keys(MainJobSummary)  # the dataclass is the contract
    assert s["device"] == "fpga" and s["method"] == "method1" and len(s["budget"]) == 3
    assert set(s["budget"][0]) >= {"budget_ms", "latency_ms", "accuracy", "oracle_accuracy"}
    assert set(s["objective_gap"]) >= {"mean", "max"} and s["objective_gap"]["mean"] < 0.1
    assert 0.5 < s["hypervolume_ratio"] <= 1.0 and s["speedup"] > 1
    assert set(s["ablations"]) == {"method2", "without_synthetic", "method2_without_synthetic"}
    assert set(s["budget_stages"]) == {"best_of_k", "polished"} and s["margin"] == 0.0
    assert "fpga" not in s["train_devices"] and "raspi4" in s["train_devices"]  # every other
    assert s["seconds_per_design_polished"] > s["seconds_per_design"]
    stage = s["budget_stages"]["polished"]  # the reported designs: polished by default
    assert stage["violation_rate"] == s["violation_rate"]
    assert stage["accuracy_gap_to_oracle"] == pytest.approx(s["accuracy_gap_to_oracle"])
    assert 0.0 <= s["loo_margin"] <= 0.5
    for b in s["budget"]:  # the oracle is the best measured accuracy within the budget
        assert b["oracle_accuracy"] >= b["accuracy"] or b["latency_ms"] > b["budget_ms"]
    designs = json.loads((first / "designs.json").read_text())
    assert len(designs) == 5 + 3 and {"arch", "decoded", "predicted", "measured"} <= set(designs[0])
    for name in ("front.png", "training_curves.png"):
        assert (first / name).stat().st_size > 1000
    assert (first / "model").is_dir() and (first / "checkpoints" / "budget").is_dir()

    again = schema.to_dict(run_main_job(config, second))  # the predictors come from the cache
    assert again["train_seconds"]["performance"] == 0.0
    for key in STABLE:
        assert without_seconds(again[key]) == without_seconds(s[key]), key

    table, space = load_latency("nb201"), get_space("nb201")
    rows = np.random.default_rng(0).choice(15625, 10, replace=False)
    csv = tmp_path / "pixel2.csv"
    lines = [f"{space.to_string(table.archs[i])},{table['pixel2'][i]}" for i in rows]
    csv.write_text("arch,latency_ms\n" + "\n".join(lines) + "\n")
    model, pixel2 = load_model(first / "model"), get_device("pixel2")
    found = design_for_device(model, pixel2, DesignConfig(budget_ms=12.0), csv)
    assert found["source"].startswith("10 measured architectures")
    assert space.validate(space.from_string(found["arch"])).shape == (6,)
    assert found["predicted_latency_ms"] <= 12.0
    auto = design_for_device(
        model, pixel2, DesignConfig(budget_ms=12.0, margin="auto", polish=True), csv
    )
    margin = float(auto["source"].split("leave-one-out margin ")[1])
    assert 0.0 <= margin <= 0.5  # the polish keeps the margined budget
    assert auto["predicted_latency_ms"] <= 12.0 * (1 - margin) + 1e-3

    # the README's ten lines, on this model and a device of two files
    (tmp_path / "my_board.yaml").write_text(
        (ROOT / "conf" / "device" / "pixel2.yaml").read_text().replace("pixel2", "my_board")
    )
    (tmp_path / "my_board.csv").write_text(csv.read_text())
    code = readme_design_snippet().replace(
        "outputs/train_optimizer/pixel3/<run>/model", str(first / "model")
    )
    assert len(code.strip().splitlines()) <= 10
    printed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert space.validate(space.from_string(printed.stdout.strip())).shape == (6,)

    # designs checked on the device (pixel2's table plays it): measured within their budgets
    lat, measured = np.asarray(table["pixel2"]), []

    def measure(arch):
        measured.append(arch)
        return lat[space.to_index(arch[None])[0]]

    spec = spec_features(pixel2)
    found = model.verified_designs(spec, table.archs[rows], lat[rows], [12.0, 20.0], measure, 3)
    assert len(measured) <= 3 and sum(f.measurements for f in found) == len(measured)
    for f, budget in zip(found, (12.0, 20.0)):
        assert f.verified and lat[space.to_index(f.arch[None])[0]] <= budget

    csv.write_text("arch,latency_ms\n|nor_conv_3x3~0|,1.0\n")
    with pytest.raises(ValueError, match=f"{csv}, line 2"):
        read_measurements(csv, space)
    design = ["+device=pixel2", "budget_ms=12", f"run={first}", f"measurements={csv}"]
    bad = subprocess.run(
        [sys.executable, "-m", "experiments.design", *design],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and f"{csv}, line 2" in bad.stderr


@pytest.mark.slow
def test_help_table_experiment(tmp_path):
    config = schema.build(
        HelpTableConfig,
        {
            "cache_dir": str(tmp_path / "c"),
            "optimizer": TINY["optimizer"],
            "evaluation": {"margin": "auto"},  # HELP's constraints: no λ grid to shrink
            "performance": {**TINY["performance"], "accuracy": "table"},  # NB201's as Acc(x)
        },
    )
    run_help_table(config, tmp_path / "help")
    s = json.loads((tmp_path / "help" / "summary.json").read_text())
    assert tuple(s) == keys(HelpTableSummary)
    rows = s["help_table"]
    assert len(rows) == 15 and s["support"] == "help_reference" and s["help_met"] == 10
    assert {r["device"] for r in rows} == {
        "titan_rtx_256",
        "gold_6226",
        "pixel2",
        "eyeriss",
        "fpga",
    }
    for r in rows:
        assert r["met"] == (r["latency_ms"] <= r["constraint_ms"])
        assert r["oracle_accuracy"] >= r["accuracy"] or not r["met"]
        assert 0.0 <= r["margin"] <= 0.5  # leave-one-out on the first 5 of HELP's references
        assert r["met"] or not r["verified"]  # a verified design was measured within its budget
    assert max(r["margin"] for r in rows) > 0
    assert set(s["stages"]) == {"best_of_k", "polished", "verified"}  # the rows are verified
    for device in {r["device"] for r in rows}:  # 5 up front, at most 5 to check designs
        assert sum(r["measurements"] for r in rows if r["device"] == device) <= 5
    assert s["violations"] == sum(not r["met"] for r in rows)
    # at least HELP's accuracy, up to the table's float32 storage noise (71.5 reads 71.4999999)
    helped = [r["met"] and r["accuracy"] > r["help_accuracy"] - 1e-4 for r in rows if r["help_met"]]
    assert s["at_least_help"] == sum(helped)
