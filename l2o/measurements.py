"""Measured (architecture, latency) pairs of a device, read from a CSV file.

The file has a header with the columns ``arch`` and ``latency_ms``; an arch is written as the
space's string (NB201: ``|nor_conv_3x3~0|+|...|``) or its index. A row that cannot be read is
refused naming the file and the line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from l2o.spaces.base import Space


def read_measurements(path: str | Path, space: Space) -> tuple[np.ndarray, np.ndarray]:
    """(archs int32[k, L], latency_ms float32[k]) from a CSV with columns arch,latency_ms."""
    path = Path(path)
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
