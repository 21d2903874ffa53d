"""Few-shot latency prediction on a new device from a prior over operator-level cost vectors.

NB201 and FBNet latency is close to additive over the chosen operators (an operator-level linear
model fitted on all archs reaches SRCC 0.99-0.9998 on most devices), so a device is described by
its cost vector ``w_d`` in ``l(x; d) = w_dᵀ x̃`` (``x̃`` = one-hot encoding plus a constant). The
training devices' min-norm cost vectors, each scaled by the device's mean latency, give a Gaussian
prior ``N(μ, Σ + ε·tr(Σ)/F·I)``; k measurements on a new device give the posterior mean in closed
form (Bayesian linear regression). The posterior is a permutation-invariant function of the k
(architecture, latency) pairs, which can be any architectures the user measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from l2o.predictors.baselines import min_norm_lstsq


class CostPrior(NamedTuple):
    """Gaussian prior over scale-free operator cost vectors: mean [F], covariance [F, F]."""

    mean: jax.Array
    cov: jax.Array


def fit_cost_prior(features: np.ndarray, latencies_ms: Sequence[np.ndarray]) -> CostPrior:
    """Prior from training devices' latencies ([D][N], D >= 2) measured on ``features`` [N, F]
    (``baselines.operator_features``: one-hot plus a constant)."""
    lat = np.stack([np.asarray(v, np.float64) for v in latencies_ms])
    if lat.shape[0] < 2:
        raise ValueError("fit_cost_prior needs at least two training devices for a covariance")
    if not (np.isfinite(lat).all() and (lat > 0).all()):
        raise ValueError("fit_cost_prior: latencies must be finite and positive (ms)")
    # min-norm: the encoding is rank-deficient; see baselines.min_norm_lstsq
    scale_free = lat / lat.mean(axis=1, keepdims=True)
    costs = min_norm_lstsq(np.asarray(features, np.float64), scale_free.T, rcond=1e-8).T  # [D, F]
    return CostPrior(
        jnp.asarray(costs.mean(0), jnp.float32), jnp.asarray(np.cov(costs.T), jnp.float32)
    )


def adapt_costs(
    prior: CostPrior,
    features: jax.Array,
    latency_ms: jax.Array,
    eps: float = 0.01,
    noise: float = 1e-2,
) -> jax.Array:
    """Posterior-mean cost vector of a device from k measurements: [k, F], [k] -> [F] (ms units).

    The prior is rescaled to the device by ``c = mean(y) / mean(x̃ μ)``; ``eps`` widens it
    isotropically (relative to its mean variance) so devices unlike the training ones can be
    fitted; ``noise`` is the measurement variance relative to ``c²``. With k = 0 it returns the
    prior mean (ranking-only: the scale is unknown). vmap over devices.
    """
    mean, cov = prior
    if features.shape[0] == 0:
        return mean
    c = jnp.mean(latency_ms) / jnp.mean(features @ mean)
    f = cov.shape[0]
    k_prior = c**2 * (cov + eps * jnp.trace(cov) / f * jnp.eye(f))  # [F, F]
    gram = features @ k_prior @ features.T + noise * c**2 * jnp.eye(features.shape[0])
    residual = latency_ms - c * features @ mean
    return c * mean + k_prior @ features.T @ jnp.linalg.solve(gram, residual)


def predict_latency(costs: jax.Array, features: jax.Array) -> jax.Array:
    """Predicted latency (ms): cost vector [F] (or [D, F]) and features [N, F] -> [N] ([D, N])."""
    return costs @ features.T
