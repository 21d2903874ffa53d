"""Process set-up shared by the experiments (only ``experiments/`` configures the process)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jax

CACHE_DIR = Path(os.environ.get("L2O_JAX_CACHE", Path.home() / ".cache" / "l2o" / "jax"))


def setup_jax(min_compile_secs: float = 0.5) -> None:
    """Persistent XLA compilation cache (reruns skip compiling programs that took at least
    ``min_compile_secs`` to compile) and quiet backend probing."""
    jax.config.update("jax_compilation_cache_dir", str(CACHE_DIR))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_secs)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax logs every save at INFO
