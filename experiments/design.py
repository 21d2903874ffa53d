"""Design for a device from a trained model: ``python -m experiments.design +device=<mine>
budget_ms=10`` (or ``lam=0.1``).

A new device is two files: ``conf/device/<mine>.yaml`` (its spec sheet, see
``conf/device/README.md``) and, optionally, ``conf/device/<mine>.csv`` with measured
(architecture, latency) pairs, columns ``arch,latency_ms`` (the arch as an NB201 string or
index), or ``measurements=<csv>`` anywhere. Without them the device's latency head comes from
its specs alone (zero-shot). The model is the ``model/`` of a ``train_optimizer`` run
(``run=<dir>``; by default the newest under ``outputs/train_optimizer``). Prints the design,
readable and as a string and index, with its predicted accuracy and latency; writes nothing.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import hydra
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig, OmegaConf

from experiments._setup import setup_jax
from l2o.devices import device_dir, device_from_mapping
from l2o.optimizer.model import load_model
from l2o.optimizer.study import loo_margin
from l2o.predictors.features import operator_features, spec_features

RUNS = Path("outputs") / "train_optimizer"


def newest_model() -> Path:
    models = sorted(RUNS.glob("*/*/model"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise FileNotFoundError(
            f"no trained model under {RUNS}/; run python -m experiments.train_optimizer "
            "+device=pixel3 first, or pass run=<a train_optimizer run directory>"
        )
    return models[-1]


def read_measurements(path: Path, space) -> tuple[np.ndarray, np.ndarray]:
    """(archs int32[k, L], latency_ms float32[k]) from a CSV with columns arch,latency_ms."""
    archs, latency = [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"arch", "latency_ms"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; need arch,latency_ms")
        for row_no, row in enumerate(reader, start=2):
            text = row["arch"].strip()
            try:
                arch = space.from_index(int(text)) if text.isdigit() else space.from_string(text)
                ms = float(row["latency_ms"])
            except ValueError as e:
                raise ValueError(f"{path}, line {row_no}: {e}") from e
            if not np.isfinite(ms) or ms <= 0:
                raise ValueError(f"{path}, line {row_no}: latency_ms must be > 0; got {ms}")
            archs.append(arch)
            latency.append(ms)
    return np.asarray(archs, np.int32).reshape(-1, space.num_slots), np.asarray(latency, np.float32)


@hydra.main(config_path="../conf", config_name="design", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax(min_compile_secs=0.0)  # cache every small program: a rerun compiles nothing
    start = time.perf_counter()
    if "device" not in cfg:
        raise ValueError(
            "choose a device: python -m experiments.design +device=<name> budget_ms=10"
        )
    if (cfg.budget_ms is None) == (cfg.lam is None):
        raise ValueError("give exactly one of budget_ms=<ms> (budget mode) or lam=<λ> (λ mode)")
    device = device_from_mapping(OmegaConf.to_container(cfg.device), f"device {cfg.device.name}")
    path = Path(cfg.run) / "model" if cfg.run else newest_model()
    model = load_model(path)
    space = model.landscape.space
    measured = Path(cfg.measurements or device_dir() / f"{device.name}.csv")
    if cfg.measurements and not measured.exists():
        raise FileNotFoundError(f"measurements={measured} does not exist")
    spec, margin = spec_features(device), cfg.margin
    if measured.exists():
        archs, latency = read_measurements(measured, space)
        ops = operator_features(space, archs)
        head = model.head(spec, ops, latency)
        source = f"{len(latency)} measured architectures ({measured})"
        if margin == "auto":
            margin = loo_margin(
                lambda rows: model.head(spec, ops[rows], latency[rows]),
                model.landscape,
                archs,
                latency,
            )
            source += f", leave-one-out margin {margin:.3f}"
    else:
        head = model.head(spec)
        source = "its spec sheet only (no conf/device/<name>.csv)"
        if margin == "auto":
            raise ValueError("margin=auto needs measured architectures (conf/device/<name>.csv)")
    arch = model.design(
        head,
        budget_ms=cfg.budget_ms,
        lam=cfg.lam,
        k=cfg.k,
        margin=float(margin),
        seed=cfg.seed,
        polish=cfg.polish,
    )
    x = model.landscape.encode(jnp.asarray(arch)[None])
    result = {
        "device": device.name,
        "arch": space.to_string(arch),
        "index": int(space.to_index(arch[None])[0]) if hasattr(space, "to_index") else None,
        "genome": [int(g) for g in arch],
        "decoded": space.decode(arch),
        "predicted_accuracy": float(model.landscape.accuracy(x)[0]),
        "predicted_latency_ms": float(model.landscape.latency(x, head.w / head.scale)[0])
        * float(head.scale),
    }
    print(f"design for {device.name} from {source}; model {path}")
    goal = f"budget {cfg.budget_ms} ms" if cfg.budget_ms is not None else f"λ = {cfg.lam}"
    print(f"  {goal}: {result['arch']}  (index {result['index']}, genome {result['genome']})")
    print(f"  {result['decoded']}")
    print(
        f"  predicted: {result['predicted_accuracy']:.2f} % accuracy, "
        f"{result['predicted_latency_ms']:.3f} ms  [{time.perf_counter() - start:.2f} s]"
    )
    return result


if __name__ == "__main__":
    main()
