"""The latency-monotonicity study of thesis §3.4 (Figs. 3.4-3.7) on the shipped measurements.

For every pair of device settings measured in a space: the SRCC of their latencies over all
architectures; per device, the SRCC between FLOPs and latency (the zero-cost proxy the thesis
shows is a weak one); and the mean SRCC per pair of device kinds (intra- vs inter-platform
monotonicity, §3.4.1-3.4.2).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from l2o.data import get_space, load_latency
from l2o.devices import get_device
from l2o.metrics import spearman, srcc_matrix
from l2o.spaces.config import NB201_CONFIG, SpaceConfig


@dataclasses.dataclass(frozen=True)
class MonotonicityConfig:
    """``experiments.monotonicity``'s settings (``conf/monotonicity.yaml``)."""

    space: SpaceConfig = NB201_CONFIG
    devices: tuple[str, ...] | None = None  # device names; null: every device measured in the space


def dense_ranks(x: np.ndarray) -> np.ndarray:
    """Order-preserving integer codes of ``x`` [..., N] as float32 (ties kept, SRCC unchanged).

    Casting float64 latencies to float32 could merge close values into false ties; ranks can't.
    """
    x = np.asarray(x)
    codes = np.unique(x, return_inverse=True)[1].reshape(x.shape)
    return codes.astype(np.float32)


def kind_pair_means(srcc: np.ndarray, kinds: Sequence[str]) -> dict[str, float]:
    """Mean off-diagonal SRCC per unordered pair of device kinds, keyed ``"kindA|kindB"``."""
    groups: dict[str, list[float]] = {}
    for i, j in itertools.combinations(range(len(kinds)), 2):
        key = "|".join(sorted((kinds[i], kinds[j])))
        groups.setdefault(key, []).append(float(srcc[i, j]))
    return {k: float(np.mean(v)) for k, v in sorted(groups.items())}


def monotonicity_study(space: str, devices: Sequence[str] | None = None) -> dict:
    """SRCC matrix, FLOPs-vs-latency SRCC and per-kind means for ``devices`` (default: all,
    ordered by kind then name).

    Returns the ``summary.json`` contract of ``experiments.monotonicity``: keys ``space``,
    ``devices``, ``srcc`` (nested lists in ``devices`` order), ``flops_srcc`` and ``by_kind``.
    """
    table = load_latency(space)
    if not devices:  # every measured device, grouped by kind so the heatmap shows platforms
        devices = sorted(table.devices, key=lambda d: (get_device(d).kind, d))
    devices = list(devices)
    rows = [table.device_index(d) for d in devices]  # KeyError lists the measured devices
    latency = dense_ranks(table.latency_ms[rows])  # [D, N]
    srcc = np.asarray(srcc_matrix(jnp.asarray(latency)), np.float64)
    flops = jnp.asarray(dense_ranks(get_space(space).macs(table.archs)))
    flops_srcc = {d: float(spearman(flops, jnp.asarray(lat))) for d, lat in zip(devices, latency)}
    kinds = [get_device(d).kind for d in devices]
    return {
        "space": space,
        "devices": devices,
        "srcc": srcc.tolist(),
        "flops_srcc": flops_srcc,
        "by_kind": kind_pair_means(srcc, kinds),
        "num_archs": int(table.latency_ms.shape[1]),
    }
