"""Shared test set-up: the persistent XLA compilation cache, so reruns skip recompiling."""

from pathlib import Path

import jax

jax.config.update(
    "jax_compilation_cache_dir", str(Path(__file__).resolve().parents[1] / ".jax_cache")
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
