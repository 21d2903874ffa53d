"""Design for a device from a trained model, no training: :func:`design_for_device`.

A device is its spec sheet (a :class:`~l2o.devices.Device`) and, optionally, measured
(architecture, latency) pairs (:func:`l2o.measurements.read_measurements`); without them its
latency head comes from the specs alone (zero-shot). The model is the ``model/`` of a main-job
run (:func:`~l2o.optimizer.model.load_model`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp

from l2o.devices import Device
from l2o.measurements import read_measurements
from l2o.optimizer.model import Model
from l2o.pipeline.evaluation import choose_margin, loo_margin


@dataclasses.dataclass(frozen=True)
class DesignConfig:
    """One design for one device (give ``budget_ms`` or ``lam``)."""

    device: dict | str | None = None  # +device=<name>: conf/device/<name>.yaml
    run: str | None = None  # a train_optimizer run directory (holding model/); None: the newest
    budget_ms: float | None = None  # budget mode; or give lam (λ mode)
    lam: float | None = None
    measurements: str | None = None  # CSV of measured pairs; None: conf/device/<name>.csv if any
    k: int = 16  # best-of-K candidates re-scored by the predictors
    polish: bool = False  # then the 100 x 10 evolutionary polish the main job reports
    margin: float | str = 0.0  # budget safety margin (fraction of the budget); auto: leave-one-out
    seed: int = 0

    def __post_init__(self):
        if (self.budget_ms is None) == (self.lam is None):
            raise ValueError("give exactly one of budget_ms=<ms> (budget mode) or lam=<λ> (λ mode)")
        if isinstance(self.margin, str):
            choose_margin(self.margin)


def design_for_device(
    model: Model, device: Device, config: DesignConfig, measured: Path | None = None
) -> dict:
    """The design for ``device`` (readable, as a string, index and genome) with its predicted
    accuracy and latency, and ``source``: what the head was made from. ``measured``: a CSV of
    measured pairs (None: the specs alone)."""
    space, margin = model.space, config.margin
    if measured is not None:
        archs, latency = read_measurements(measured, space)
        head = model.device_head(device, archs, latency)
        source = f"{len(latency)} measured architectures ({measured})"
        if margin == "auto":
            margin = loo_margin(
                lambda rows: model.device_head(device, archs[rows], latency[rows]),
                model.landscape,
                archs,
                latency,
            )
            source += f", leave-one-out margin {margin:.3f}"
    else:
        head = model.device_head(device)
        source = "its spec sheet only (no conf/device/<name>.csv)"
        if margin == "auto":
            raise ValueError("margin=auto needs measured architectures (conf/device/<name>.csv)")
    arch = model.design(
        head,
        budget_ms=config.budget_ms,
        lam=config.lam,
        k=config.k,
        margin=float(margin),
        seed=config.seed,
        polish=config.polish,
    )
    x = model.landscape.encode(jnp.asarray(arch)[None])
    return {
        "device": device.name,
        "arch": space.to_string(arch),
        "index": int(space.to_index(arch[None])[0]) if hasattr(space, "to_index") else None,
        "genome": [int(g) for g in arch],
        "decoded": space.decode(arch),
        "predicted_accuracy": float(model.landscape.accuracy(x)[0]),
        "predicted_latency_ms": float(model.landscape.latency(x, head.w / head.scale)[0])
        * float(head.scale),
        "source": source,
    }
