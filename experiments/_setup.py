"""Process set-up shared by the experiments (only ``experiments/`` configures the process)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jax

CACHE_DIR = Path(os.environ.get("L2O_JAX_CACHE", Path.home() / ".cache" / "l2o" / "jax"))


ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _parallel_jobs() -> bool:
    """Whether this process is one of several jobs a Hydra launcher runs side by side."""
    try:
        from hydra.core.hydra_config import HydraConfig

        target = str(HydraConfig.get().launcher.get("_target_", ""))
    except ValueError:  # not inside a Hydra job
        return False
    return "joblib" in target.lower() or "submitit_local" in target.lower()


def setup_jax(min_compile_secs: float = 0.5) -> None:
    """Persistent XLA compilation cache (reruns skip compiling programs that took at least
    ``min_compile_secs`` to compile) and quiet backend probing. Under a launcher that runs jobs
    side by side (``hydra/launcher=joblib``), each job gets one XLA CPU thread so the jobs do
    not fight over the cores (set before the backend starts: nothing has computed yet)."""
    if _parallel_jobs() and ONE_THREAD not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {ONE_THREAD}".strip()
    jax.config.update("jax_compilation_cache_dir", str(CACHE_DIR))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_secs)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax logs every save at INFO
