"""The settings the main job and HELP's Table 4 share: one schema, defaults written once."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from l2o.config import lookup
from l2o.optimizer.network import OptimizerConfig
from l2o.pipeline.evaluation import EvalConfig
from l2o.pipeline.performance import (
    SUPPORTS,
    TRAIN_DEVICES,
    PerformanceConfig,
)
from l2o.spaces.config import NB201_CONFIG, SpaceConfig


def default_cache_dir() -> Path:
    """Where trained performance networks are cached: ``$L2O_CACHE/predictors``, by default
    ``~/.cache/l2o/predictors``."""
    root = os.environ.get("L2O_CACHE") or Path.home() / ".cache" / "l2o"
    return Path(root) / "predictors"


@dataclasses.dataclass(frozen=True)
class DesignStudyConfig:
    """A trained optimizer network scored on measured target devices."""

    space: SpaceConfig = NB201_CONFIG
    seed: int = 0
    k: int = 10  # measured architectures of each target device
    support: str = "random"  # which k archs are measured (SUPPORTS): random | help_reference
    # of the k, how many are kept to measure budget designs (l2o.optimizer.verify): a design
    # measured within its budget is returned verified; one over it refits the head
    verify: int = 0
    # who the performance networks learn from (TRAIN_DEVICES): all (every measured device but
    # the targets and the split's validation devices, which early-stop) | help (the space's
    # split, less the targets)
    train_devices: str = "all"
    cache_dir: str | None = None  # trained predictors, by config (None: default_cache_dir())
    performance: PerformanceConfig = PerformanceConfig()
    optimizer: OptimizerConfig = OptimizerConfig()  # one network per mode (lambda, budget)
    evaluation: EvalConfig = EvalConfig()

    def __post_init__(self):
        lookup(SUPPORTS, self.support, "support")
        lookup(TRAIN_DEVICES, self.train_devices, "train_devices")
        if not 0 <= self.verify < self.k:
            raise ValueError(
                f"verify keeps some of the k={self.k} measurements; got verify={self.verify}"
            )

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()
