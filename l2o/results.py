"""Writing run results: ``summary.json`` (a stable contract per experiment) and plots."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
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


def _save(fig, path: str | Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return Path(path)


def _label(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


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
    return _save(fig, path)


def plot_curves(
    curves: Mapping[str, Sequence[Sequence[float]]],
    path: str | Path,
    title: str,
    xlabel: str,
    ylabel: str,
    references: Mapping[str, float] | None = None,
    logx: bool = False,
) -> Path:
    """Save line plots of ``{label: [[x, y], ...]}`` with dashed horizontal reference lines."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, points in curves.items():
        xy = np.asarray(points, dtype=float)
        ax.plot(xy[:, 0], xy[:, 1], marker="o", ms=3, label=label)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{len(curves) + i}", label=label)
    if logx:  # symlog keeps x = 0 (e.g. k = 0 measurements) on a log axis
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=0)
    _label(ax, title, xlabel, ylabel)
    return _save(fig, path)


def plot_predicted_vs_measured(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str
) -> Path:
    """One log-log scatter per ``{name: (predicted, measured)}`` with the y = x line."""
    n = len(panels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (name, (pred, measured)) in zip(axes.flat, panels.items()):
        pred, measured = np.asarray(pred, float), np.asarray(measured, float)
        ax.scatter(measured, np.maximum(pred, 1e-6), s=1, alpha=0.3)
        lo, hi = measured.min(), measured.max()
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(labelsize=6)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("measured ms", fontsize=7)
        ax.set_ylabel("predicted ms", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_front(
    fronts: Mapping[str, Mapping],
    everything: tuple[np.ndarray, np.ndarray],
    path: str | Path,
    title: str,
) -> Path:
    """Latency-accuracy plane: every design in grey, each searcher's non-dominated designs
    (``{"latency_ms", "accuracy", "index"}``) as a step line."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(everything[0], everything[1], s=1, color="0.8", label="designs")
    for i, (name, f) in enumerate(fronts.items()):
        idx = np.asarray(f["index"])
        lat, acc = np.asarray(f["latency_ms"])[idx], np.asarray(f["accuracy"])[idx]
        ax.step(lat, acc, where="post", color=f"C{i}", marker="o", ms=4, label=name)
    _label(ax, title, "latency ms", "accuracy %")
    return _save(fig, path)


def plot_bars(
    groups: Mapping[str, Sequence[float]],
    labels: Sequence[str],
    path: str | Path,
    title: str,
    ylabel: str,
    reference: float | None = None,
) -> Path:
    """Grouped bars, one group per label (e.g. SRCC before and after per target device), with
    an optional dashed reference line."""
    n, m = len(labels), len(groups)
    fig, ax = plt.subplots(figsize=(0.35 * n * m + 2.5, 3.8))
    width = 0.8 / m
    for i, (name, values) in enumerate(groups.items()):
        ax.bar(np.arange(n) + (i - (m - 1) / 2) * width, values, width, label=name, color=f"C{i}")
    if reference is not None:
        ax.axhline(reference, color="0.3", ls="--", lw=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    _label(ax, title, "", ylabel)
    return _save(fig, path)


def plot_srcc_cdf(matrices: Mapping[str, np.ndarray], path: str | Path, title: str) -> Path:
    """CDF over devices (or accelerators) of each one's mean SRCC with the others, one curve per
    ``{label: SRCC matrix}`` (thesis Fig. 4.2c)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, m in matrices.items():
        n = len(m)
        mean = np.sort((np.asarray(m).sum(1) - 1) / (n - 1))
        ax.step(mean, np.arange(1, n + 1) / n, where="post", label=label)
    ax.legend()
    _label(ax, title, "mean SRCC with the others", "CDF")
    return _save(fig, path)
