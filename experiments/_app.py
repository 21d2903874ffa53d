"""The Hydra edge: an experiment's frozen-dataclass schema registered as its config's defaults,
and the composed config turned back into that dataclass (:func:`l2o.config.build`).

An experiment module calls ``register("<name>", Schema)`` at import time (``conf/<name>.yaml``'s
defaults list begins with ``- <name>_schema``) and ``config = load(Schema, cfg)`` in its main.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from l2o import config

T = TypeVar("T")

SCHEMAS: dict[str, type] = {}  # primary config name -> its schema (every registered app)


def register(name: str, schema: type) -> None:
    """Store ``schema``'s defaults as ``<name>_schema``: the first entry of ``conf/<name>.yaml``'s
    defaults list, so the YAML holds only what differs from them."""
    SCHEMAS[name] = schema
    ConfigStore.instance().store(name=f"{name}_schema", node=config.defaults(schema))


def load(schema: type[T], cfg: DictConfig) -> T:
    """The composed Hydra config as ``schema`` (unknown keys and bad values are refused)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    data.pop("hydra", None)
    return config.build(schema, data)


def run_dir() -> Path:
    """The running job's output directory (``hydra.run.dir``, or the sweep job's)."""
    return Path(HydraConfig.get().runtime.output_dir)
