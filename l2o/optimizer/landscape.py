"""The frozen performance networks as the optimizer network sees them (thesis §1.5.2 Stage 2).

The predicted objective of Eq. 1.8 (energy omitted where no energy labels exist) is::

    f(x; d, λ) = -Acc(x) / 100 + λ · max(φ(x)ᵀ v_d, 0),        v_d = w_d / c_d

with the latency network's cost head ``w_d`` and the device's latency scale ``c_d``
(:mod:`l2o.predictors.latency`): accuracy as a fraction, latency in units of the device's mean
latency, so one λ range serves a 0.01 ms accelerator and a 100 ms phone alike. Latency is clamped at
0 because the linear head can go slightly negative on the cells that compute nothing, and a negative
latency would be a prize for the optimizer to chase. The objective depends on the device only
through ``v_d``, so ``v_d`` is the device representation the optimizer network reads (the spec
features enter through the head's prior when fewer than k measurements exist).

The budget mode asks for the most accurate design whose predicted latency is within ``b`` ms,
``β = b / c_d`` in the same units. Both modes condition on one scalar ``u``: ``log10 λ`` or
``ln β``.

Synthetic devices ``D_S`` are heads drawn from the latency network's prior ``N(μ, K)`` over
scale-free heads: new points of the device-representation space, evaluated through the same
predictor.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from l2o.objective import PERCENT, constrained, constrained_exact, relaxed
from l2o.predictors.latency import Head, TrainedLatency
from l2o.search.baselines import exhaustive
from l2o.spaces.base import Space

MODES = ("lambda", "budget")


def objective_values(acc: jax.Array, lat: jax.Array, u, mode: str, penalty=None) -> jax.Array:
    """The predicted objective from accuracy (%) and relative latency (lower is better): the
    forms of :mod:`l2o.objective` with accuracy as a fraction.

    ``lambda``: Eq. 1.8, ``-Acc/100 + λ·Lat/c`` with ``u = log10 λ``. ``budget`` (``u = ln β``):
    the constrained form (Eq. 1.1-1.3), exact (``-Acc/100``, +inf when over the budget) or, with
    a ``penalty`` weight, relaxed to ``-Acc/100 + penalty · max(Lat / β - 1, 0)`` so that it has
    a gradient (Method 2)."""
    if mode == "lambda":
        return relaxed(acc, lat, lam2=10.0**u, norm=PERCENT)
    if penalty is None:
        return constrained_exact(acc, lat, jnp.exp(u), norm=PERCENT)
    return constrained(acc, lat, jnp.exp(u), penalty=penalty, norm=PERCENT)[0]


@struct.dataclass
class Landscape:
    """Predicted accuracy and latency of a space, for any device head, on flat encodings.

    A pytree: the arrays (the predictors' params, the probe set's tables, the training heads,
    the prior) are its leaves, the space and the two predictor functions static, so a new
    device, model or accuracy table of the same shapes reuses every compiled program.
    ``archs`` is the probe set the exhaustive labels, budget ranges and objective ranges use:
    every architecture when the space is small enough (NB201), else a uniform sample."""

    space: Space = struct.field(pytree_node=False)
    # (params, flat (relaxed) one-hot [..., E]) -> %; hashable (equal functions compare equal)
    accuracy_fn: Callable[[Any, jax.Array], jax.Array] = struct.field(pytree_node=False)
    # (params, flat one-hot [..., E]) -> φ [..., F]
    features_fn: Callable[[Any, jax.Array], jax.Array] = struct.field(pytree_node=False)
    accuracy_params: Any
    features_params: Any
    archs: jax.Array  # int32[N, L]
    phi: jax.Array  # float32[N, F]: φ of the probe archs
    acc: jax.Array  # float32[N]: predicted accuracy (%) of the probe archs
    train_heads: jax.Array  # float32[D, F]: scale-free heads v of the training devices
    prior_mean: jax.Array  # float32[F]
    prior_factor: jax.Array  # float32[F, F]: a square root of the prior covariance

    def accuracy(self, x: jax.Array) -> jax.Array:
        """Predicted accuracy (%) of flat (relaxed) encodings x [..., E]."""
        return self.accuracy_fn(self.accuracy_params, x)

    def features(self, x: jax.Array) -> jax.Array:
        """The latency network's features φ of flat encodings x [..., E] -> [..., F]."""
        return self.features_fn(self.features_params, x)

    @property
    def dim(self) -> int:
        return int(self.prior_mean.shape[-1])

    def latency(self, x: jax.Array, v: jax.Array) -> jax.Array:
        """Relative latency ``max(φ(x)ᵀ v, 0)``: flat encodings x [..., E], heads v [..., F]."""
        return jnp.maximum(jnp.sum(self.features(x) * v, -1), 0.0)

    def encode(self, archs: jax.Array) -> jax.Array:
        return self.space.one_hot_batch(archs)

    def synthetic(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` synthetic devices' heads v ~ N(μ, K): float32[n, F]."""
        z = jax.random.normal(key, (n, self.dim))
        return self.prior_mean + z @ self.prior_factor.T

    def sample_conditions(
        self, key: jax.Array, n: int, synthetic: float, mode: str, log_lambda=(-3.0, 1.0)
    ) -> tuple[jax.Array, jax.Array]:
        """A training batch of (heads v [n, F], conditions u [n]): a ``synthetic`` fraction of
        the heads from D_S, the rest from the training devices; u is log10 λ uniform in
        ``log_lambda`` (Λ_T), or ln β log-uniform over the device's feasible range (from its
        fastest to its slowest probe architecture)."""
        k_dev, k_syn, k_pick, k_u = jax.random.split(key, 4)
        real = self.train_heads[jax.random.randint(k_dev, (n,), 0, self.train_heads.shape[0])]
        if synthetic > 0:
            pick = jax.random.uniform(k_pick, (n,)) < synthetic
            v = jnp.where(pick[:, None], self.synthetic(k_syn, n), real)
        else:
            v = real
        u01 = jax.random.uniform(k_u, (n,))
        if mode == "lambda":
            lo, hi = log_lambda
            return v, lo + (hi - lo) * u01
        lat = self.probe_latency(v)
        lo = jnp.log(jnp.maximum(lat.min(-1), 1e-3))
        hi = jnp.log(jnp.maximum(lat.max(-1), 2e-3))
        return v, lo + (hi - lo) * u01

    def probe_latency(self, v: jax.Array) -> jax.Array:
        """Relative latency of every probe arch for heads v [..., F] -> [..., N]."""
        return jnp.maximum(v @ self.phi.T, 0.0)

    def objective(self, x: jax.Array, v: jax.Array, u, mode: str, penalty=None) -> jax.Array:
        """:func:`objective_values` of flat (relaxed) encodings x [..., E]."""
        return objective_values(self.accuracy(x), self.latency(x, v), u, mode, penalty)

    def probe_objective(self, v: jax.Array, u: jax.Array, mode: str) -> jax.Array:
        """The objective of every probe arch, exact for the budget mode (infeasible = +inf):
        heads v [B, F], conditions u [B] -> [B, N]."""
        return _probe_objective(self.phi, self.acc, v, u, mode)

    def labels(self, v: jax.Array, u: jax.Array, mode: str, chunk: int = 512) -> jax.Array:
        """Exhaustive search over the probe set for each (v, u): int32[B, L] (Method 1's
        labels). An infeasible budget (below the fastest probe arch) gets the fastest arch."""
        v, u = jnp.asarray(v, jnp.float32), jnp.asarray(u, jnp.float32)
        best = [
            _argmin_probe(self.phi, self.acc, v[i : i + chunk], u[i : i + chunk], mode)
            for i in range(0, v.shape[0], chunk)
        ]
        return self.archs[jnp.concatenate(best)]


def _probe_objective(phi, acc, v, u, mode):
    return objective_values(acc, jnp.maximum(v @ phi.T, 0.0), u[:, None], mode)


@functools.partial(jax.jit, static_argnames="mode")
def _argmin_probe(phi, acc, v, u, mode):
    """Row of the probe set's optimum for each (v [B, F], u [B]): the exhaustive search
    (:func:`l2o.search.baselines.exhaustive`) over the rows of the precomputed φ and Acc."""

    def fitness(params, rows):
        v, u = params
        return objective_values(acc[rows], jnp.maximum(phi[rows] @ v, 0.0), u, mode)

    rows = jnp.arange(phi.shape[0])
    found = jax.vmap(lambda v, u: exhaustive(fitness, (v, u), rows))(v, u)
    fastest = jnp.argmin(v @ phi.T, -1)
    return jnp.where(jnp.isfinite(found.fitness), found.arch, fastest)


@dataclasses.dataclass(frozen=True)
class LatencyFeatures:
    """φ of the latency network ``net``: its operator features (and the constant) through
    ``net.features`` (hashable by value, a static part of a :class:`Landscape`)."""

    net: nn.Module

    def __call__(self, params, x: jax.Array) -> jax.Array:
        ops = jnp.concatenate([x, jnp.ones((*x.shape[:-1], 1), x.dtype)], -1)
        return nn.apply(lambda m: m.features(ops), self.net)(params)


def build_landscape(
    space: Space,
    accuracy_fn: Callable[[Any, jax.Array], jax.Array],
    accuracy_params: Any,
    latency: TrainedLatency,
    train_heads: Head | None = None,
    probe: jax.Array | None = None,
) -> Landscape:
    """The landscape of one latency-network member (the first) and an accuracy predictor
    ``accuracy_fn(accuracy_params, x)`` on flat encodings; ``train_heads`` are the training
    devices' heads (w [D, F], scale [D]). Without training heads and probe set it only designs
    and scores (what inference needs)."""
    params = jax.tree_util.tree_map(lambda a: a[0], latency.params)
    net = latency.net
    features = LatencyFeatures(net)
    x0 = jnp.zeros((1, space.encoding_size))
    f = jax.eval_shape(features, params, x0).shape[-1]
    if train_heads is None:  # inference only: no synthetic devices to draw
        mean, factor = jnp.zeros(f), jnp.zeros((f, f))
    else:
        mean, factor = jax.jit(_prior, static_argnums=0)(net, params)
    probe = jnp.zeros((0, space.num_slots), jnp.int32) if probe is None else probe
    x = space.one_hot_batch(probe)
    v = jnp.zeros((0, f)) if train_heads is None else train_heads.w / train_heads.scale[:, None]
    return Landscape(
        space=space,
        accuracy_fn=accuracy_fn,
        features_fn=features,
        accuracy_params=accuracy_params,
        features_params=params,
        archs=jnp.asarray(probe, jnp.int32),
        phi=jax.jit(features)(params, x) if len(probe) else jnp.zeros((0, f)),
        acc=jax.jit(accuracy_fn)(accuracy_params, x) if len(probe) else jnp.zeros((0,)),
        train_heads=jnp.asarray(v, jnp.float32),
        prior_mean=mean,
        prior_factor=factor,
    )


def _prior(net, params):
    """The latency network's prior over scale-free heads: (mean [F], a square root [F, F])."""
    mean, cov = nn.apply(
        lambda m: (m.prior_mean(jnp.zeros(m.spec_map.shape[0])), m.prior_cov()), net
    )(params)
    return mean, jnp.linalg.cholesky(cov + 1e-9 * jnp.eye(cov.shape[0]))
