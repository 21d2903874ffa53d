"""Design for a device from a trained model: ``python -m experiments.design +device=<mine>
budget_ms=10`` (or ``lam=0.1``).

A new device is two files: ``conf/device/<mine>.yaml`` (its spec sheet, see
``conf/device/README.md``) and, optionally, ``conf/device/<mine>.csv`` with measured
(architecture, latency) pairs, columns ``arch,latency_ms``, or ``measurements=<csv>`` anywhere.
The model is the ``model/`` of a ``train_optimizer`` run (``run=<dir>``; by default the newest
under ``outputs/train_optimizer``). Prints the design with its predicted accuracy and latency
(:func:`l2o.pipeline.design.design_for_device`); the options are the fields of
:class:`l2o.pipeline.design.DesignConfig`.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from experiments._app import load, register
from experiments._setup import setup_jax
from l2o.devices import device_dir, device_from_mapping
from l2o.optimizer.model import load_model
from l2o.pipeline.design import DesignConfig, design_for_device

RUNS = Path("outputs") / "train_optimizer"
register("design", DesignConfig)


def newest_model() -> Path:
    models = sorted(RUNS.glob("*/*/model"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise FileNotFoundError(
            f"no trained model under {RUNS}/; run python -m experiments.train_optimizer "
            "+device=pixel3 first, or pass run=<a train_optimizer run directory>"
        )
    return models[-1]


@hydra.main(config_path="../conf", config_name="design", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax(min_compile_secs=0.0)  # cache every small program: a rerun compiles nothing
    start = time.perf_counter()
    config = load(DesignConfig, cfg)
    if not isinstance(config.device, dict):
        raise ValueError(
            "choose a device: python -m experiments.design +device=<name> budget_ms=10"
        )
    device = device_from_mapping(config.device, f"device {config.device.get('name')}")
    path = Path(config.run) / "model" if config.run else newest_model()
    measured = Path(config.measurements or device_dir() / f"{device.name}.csv")
    if config.measurements and not measured.exists():
        raise FileNotFoundError(f"measurements={measured} does not exist")
    result = design_for_device(
        load_model(path), device, config, measured if measured.exists() else None
    )
    print(f"design for {device.name} from {result['source']}; model {path}")
    goal = f"budget {config.budget_ms} ms" if config.budget_ms is not None else f"λ = {config.lam}"
    print(f"  {goal}: {result['arch']}  (index {result['index']}, genome {result['genome']})")
    print(f"  {result['decoded']}")
    print(
        f"  predicted: {result['predicted_accuracy']:.2f} % accuracy, "
        f"{result['predicted_latency_ms']:.3f} ms  [{time.perf_counter() - start:.2f} s]"
    )
    return result


if __name__ == "__main__":
    main()
