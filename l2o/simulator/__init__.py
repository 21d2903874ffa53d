"""Hardware models: roofline devices and dataflow accelerators."""

from __future__ import annotations

import numpy as np


def stack_padded(tables: list[np.ndarray]) -> np.ndarray:
    """Per-architecture layer tables ``[n_i, F]`` zero-padded to the longest: ``[N, n_max, F]``
    (a zero row costs nothing in either model)."""
    n = max(len(t) for t in tables)
    return np.stack([np.pad(t, ((0, n - len(t)), (0, 0))) for t in tables])
