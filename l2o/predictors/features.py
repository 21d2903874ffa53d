"""What the latency network ``Lat(x; d)`` reads (:mod:`l2o.predictors.latency`), and its prior.

- :func:`operator_features`: the operator features of an architecture, the thesis's
  ``x ∈ {0,1}^K ∪ {1}`` (the one-hot of the searchable operators and a constant);
- :func:`spec_features`: a device's spec features ``s_d`` (its spec sheet, ``conf/device``);
- :func:`min_norm_lstsq`: the minimum-norm operator-level least squares, whose fits on the
  training devices give the network's empirical prior (and the operator-level baselines,
  :mod:`l2o.predictors.baselines`, their weights);
- :class:`LatencyData`: both feature sets of a whole table, what meta-training reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.devices import KINDS, SPEC_FIELDS, Device
from l2o.spaces.base import Space

SPEC_DIM = 2 * len(SPEC_FIELDS) + len(KINDS) + 1


def spec_features(device: Device) -> np.ndarray:
    """float32[SPEC_DIM]: log spec values (0 where unknown), known flags, kind one-hot,
    log2 batch size. Logs because specs span orders of magnitude (0.2-2 GHz, 4-4000 GFLOP/s)."""
    values, known = device.spec_vector()
    logs = np.where(known, np.log(np.where(known, values, 1.0)), 0.0)
    kind = np.array([device.kind == k for k in KINDS], np.float32)
    batch = np.log2(device.batch_size)
    return np.concatenate([logs, known, kind, [batch]]).astype(np.float32)


def operator_features(space: Space, archs: jax.Array) -> jax.Array:
    """The thesis's ``x ∈ {0,1}^K ∪ {1}``: one-hot plus a trailing 1, int32[N, L] -> f32[N, E+1].

    The constant is the non-searchable part of the network; it is needed explicitly because
    masked slots (OFA's depth) make a slot's one-hot sum to 0, not 1.
    """
    x = space.one_hot_batch(archs)
    return jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


def min_norm_lstsq(x: np.ndarray, y: np.ndarray, rcond: float) -> np.ndarray:
    """Minimum-norm least-squares ``argmin |w| s.t. w minimises |x w - y|``: [N, F], [N] -> [F]
    (or [N, D] -> [F, D], one column per target).

    Through the SVD: singular values below ``rcond * s_max`` count as zero (the design's null
    space), so the solve is never ill-conditioned. float64 throughout.
    """
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    keep = s > rcond * s[0]
    scale = s[keep].reshape(-1, *([1] * (np.ndim(y) - 1)))
    return vt[keep].T @ ((u[:, keep].T @ y) / scale)


class LatencyData(NamedTuple):
    """What meta-training reads: every arch's operator features and the devices' latencies."""

    op_features: jax.Array  # float32[N, E+1]
    latency_ms: jax.Array  # float32[D, N]
    specs: jax.Array  # float32[D, SPEC_DIM]
    macs: jax.Array  # float32[N]: MACs of every arch (the synthetic compute-bound device)


def latency_data(
    space: Space, archs: np.ndarray, latency_ms: np.ndarray, devices: Sequence[Device]
) -> LatencyData:
    """Validated :class:`LatencyData`: archs int[N, L], latency_ms float[D, N], D devices."""
    archs = space.validate(archs)
    lat = np.asarray(latency_ms, np.float32)
    if lat.shape != (len(devices), len(archs)):
        raise ValueError(
            f"latency_ms must be [devices, archs] = ({len(devices)}, {len(archs)}); got {lat.shape}"
        )
    if not (np.isfinite(lat).all() and (lat > 0).all()):
        bad = sorted({devices[i].name for i in np.where(~(np.isfinite(lat) & (lat > 0)))[0]})
        raise ValueError(f"latencies must be finite and > 0 ms; devices with bad values: {bad}")
    specs = np.stack([spec_features(d) for d in devices])
    macs = jnp.asarray(space.macs(archs), jnp.float32)
    return LatencyData(operator_features(space, archs), jnp.asarray(lat), jnp.asarray(specs), macs)
