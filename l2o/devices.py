"""Devices: frozen records built from ``conf/device/<name>.yaml``, and a registry of them.

A device setting is hardware plus an inference batch size (``1080ti_32`` is a GTX 1080 Ti at
batch 32). Spec features are public spec-sheet values; unknown ones are ``None``, never invented.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import yaml

KINDS = ("desktop_gpu", "desktop_cpu", "mobile", "embedded", "asic", "fpga")
SPEC_FIELDS = ("peak_gflops", "mem_bandwidth_gbs", "cores", "clock_ghz", "ram_gb", "process_nm")
DEFAULT_DEVICE_DIR = Path(__file__).resolve().parents[1] / "conf" / "device"


@dataclasses.dataclass(frozen=True)
class Device:
    """One device setting: name, kind, batch size, hardware and its spec features."""

    name: str
    kind: str
    batch_size: int
    hardware: str
    specs: Mapping[str, float | None]

    def spec_vector(self) -> tuple[np.ndarray, np.ndarray]:
        """Spec features in ``SPEC_FIELDS`` order: (values float32[6] with 0 where unknown,
        known bool[6])."""
        raw = [self.specs.get(f) for f in SPEC_FIELDS]
        known = np.array([v is not None for v in raw])
        values = np.array([0.0 if v is None else float(v) for v in raw], np.float32)
        return values, known


def device_from_mapping(cfg: Mapping, source: str = "<config>") -> Device:
    """Build and validate a :class:`Device` from a parsed YAML file or a Hydra ``cfg.device``."""
    if not isinstance(cfg, Mapping):
        raise ValueError(f"{source}: a device config is a mapping, got {type(cfg).__name__}")
    for field in ("name", "kind", "batch_size", "specs"):
        if field not in cfg:
            raise ValueError(f"{source}: field {field!r} is missing (see conf/device/README.md)")
    if cfg["kind"] not in KINDS:
        raise ValueError(f"{source}: field 'kind' is {cfg['kind']!r}; use one of {KINDS}")
    if not isinstance(cfg["batch_size"], int) or cfg["batch_size"] < 1:
        raise ValueError(f"{source}: field 'batch_size' must be a positive integer")
    specs = dict(cfg["specs"] or {})
    unknown = set(specs) - set(SPEC_FIELDS)
    if unknown:
        raise ValueError(f"{source}: unknown spec fields {sorted(unknown)}; known: {SPEC_FIELDS}")
    for field in SPEC_FIELDS:
        value = specs.setdefault(field, None)
        if value is not None and (not isinstance(value, int | float) or value <= 0):
            raise ValueError(f"{source}: spec {field!r} must be a positive number or null")
    return Device(
        str(cfg["name"]),
        cfg["kind"],
        cfg["batch_size"],
        str(cfg.get("hardware", "")),
        MappingProxyType(specs),
    )


def load_device(path: str | Path) -> Device:
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from e
    device = device_from_mapping(cfg, str(path))
    if device.name != path.stem:
        raise ValueError(f"{path}: field 'name' is {device.name!r} but the file is {path.stem!r}")
    return device


def device_dir() -> Path:
    """Where device configs live: ``$L2O_DEVICE_DIR`` or the repository's ``conf/device``."""
    return Path(os.environ.get("L2O_DEVICE_DIR", DEFAULT_DEVICE_DIR))


@functools.cache
def _registry(directory: Path) -> MappingProxyType:
    if not directory.is_dir():
        raise FileNotFoundError(
            f"device config folder {directory} not found; set L2O_DEVICE_DIR or install l2o "
            "from its repository (pip install -e .)"
        )
    return MappingProxyType({p.stem: load_device(p) for p in sorted(directory.glob("*.yaml"))})


def registry() -> Mapping[str, Device]:
    """Every known device, by name."""
    return _registry(device_dir())


def get_device(name: str) -> Device:
    """The device called ``name``; an unknown name raises ValueError listing the known ones."""
    known = registry()
    if name not in known:
        raise ValueError(f"unknown device {name!r}; known devices: {', '.join(sorted(known))}")
    return known[name]
