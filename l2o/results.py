"""Writing run results: ``summary.json`` (a stable contract per experiment) and plots."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _check_finite(value, where: str = "summary"):
    """Raise ValueError naming the first NaN/inf in a nested summary; return it as plain JSON."""
    if isinstance(value, Mapping):
        return {str(k): _check_finite(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_check_finite(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}: refusing to write a non-finite result")
    return value


def write_summary(out_dir: str | Path, summary: Mapping, name: str = "summary.json") -> Path:
    """Write ``summary`` as JSON to ``out_dir/name``; NaN or inf anywhere raises ValueError."""
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_check_finite(summary), indent=2) + "\n")
    return path


def plot_matrix(
    matrix: np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    title: str,
    vmin: float | None = None,
    vmax: float = 1.0,
) -> Path:
    """Save a labelled heatmap of a square matrix (e.g. SRCC between devices) as PNG."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(0.32 * n + 3, 0.32 * n + 2.2))
    im = ax.imshow(matrix, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    f"{matrix[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=4.5,
                    color="white" if matrix[i, j] < (vmax + (vmin or 0)) / 2 else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return Path(path)
