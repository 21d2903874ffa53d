"""The device-conditioned latency predictor ``Lat_{Θ_L}(x; d)`` of thesis §1.5.2 Stage 1.

One network serves every device, including devices it never saw in training::

    Lat(x; d) = φ(x)ᵀ w_d                      (ms)
    φ(x)      = [one-hot(x), 1, h_θ(x)]        operator features and learned features (an MLP)
    w_d       ~ N(c_d · μ(s_d), c_d² K)        the device's cost head, a priori
    μ(s)      = μ₀ + A s                       prior mean from spec features s (conf/device)
    K         = U Uᵀ + diag(exp ρ)             learned prior covariance

The cost head ``w_d`` is the device representation. It comes from any of three sources, alone or
together: the spec features (zero-shot: ``w_d = c_d μ(s_d)``, with the scale ``c_d`` predicted
from the specs too); a permutation-invariant set encoder over any k measured (architecture,
latency) pairs of the device, namely the Bayesian posterior mean of ``w_d`` (sum-pooled sufficient
statistics ``Σ φφᵀ, Σ φ y`` decoded by a solve, so any k and any architectures work); and that
posterior is exactly a few-shot adaptation of the linear head on the k measurements, with the
prior as its regulariser.

Its inputs, the operator features ``[one-hot(x), 1]`` and the spec features ``s``, come from
:mod:`l2o.predictors.features`. Training (:mod:`l2o.predictors.latency_training`) is
meta-learning on episodes (ALPaCA-style): a training device, k support pairs drawn at random (k
from ``ks``), the posterior head from them, and a loss on query architectures of the same
device. The loss respects ranking and scale together: relative squared error (latencies span
0.003-183 ms across devices, so errors are per-device relative) plus a pairwise logistic ranking
term. The prior starts at the empirical one of the training devices' min-norm operator-level
fits (``features.min_norm_lstsq``) and by default stays there while the learned features, the
noise and the spec scale head train (see ``LatencyNet._frozen`` for why).
Several seeds train at once as an ensemble: one params pytree with a leading member axis.

Measured (``python -m experiments.train_predictors``, HELP's splits, 3 random support sets per
k): NB201 mean test SRCC 0.890 / 0.960 / 0.955 at k = 0 / 10 / 20 (HELP 0.932 at k = 10, FLOPs
0.847); FBNet 0.928 / 0.953 / 0.967 at k = 0 / 10 / 20 (HELP 0.910 at k = 10, FLOPs 0.959).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from l2o.predictors.features import SPEC_DIM, LatencyData
from l2o.predictors.fitting import FitConfig, FitResult

Params = Any


@dataclasses.dataclass(frozen=True)
class LatencyNetConfig:
    """Architecture and meta-training settings of :class:`LatencyNet`."""

    hidden: tuple[int, ...] = (128, 128)
    learned_features: int = 16  # width of h_θ(x); 0 = operator features only
    rank: int = 8  # columns of U
    ks: tuple[int, ...] = (0, 5, 10, 20, 50)  # support sizes drawn in training episodes
    query: int = 128  # query archs per episode
    rank_weight: float = 0.5  # weight of the pairwise ranking term
    rank_temperature: float = 0.05  # relative latency gap that counts as a clear order
    synthetic_flops: bool = True  # a compute-bound synthetic device (latency = MACs) in the prior
    train_prior: bool = False  # meta-learn the operator-cost prior too (see LatencyNet._frozen)
    relative_floor: float = 0.1  # relative errors divide by max(y, floor * mean latency)
    episodes: int = 4096  # training episodes per epoch (per member)
    val_episodes: int = 64  # fixed episodes per validation device (k = val_k)
    val_k: int = 10
    members: int = 5  # ensemble size
    # chosen on HELP's NB201 validation devices (k = 10 SRCC, eps in {0.01, 0.03, 0.1} x noise
    # in {3e-2, 1e-2, 3e-3, 1e-3, 3e-4}): val 0.969, against 0.963 at (0.01, 1e-2)
    eps: float = 0.03  # isotropic widening of the empirical prior (x its mean variance)
    noise: float = 1e-3  # initial measurement variance, relative to the device scale²
    fit: FitConfig = FitConfig(
        learning_rate=1e-3, batch_size=32, max_epochs=30, patience=5, weight_decay=0.0
    )


class LatencyNet(nn.Module):
    """Features, prior and scale head of ``Lat(x; d)``; see the module docstring."""

    num_op_features: int  # E + 1: one-hot plus the constant
    config: LatencyNetConfig

    def setup(self):
        c = self.config
        f = self.num_op_features + c.learned_features
        self.layers = [nn.Dense(w) for w in c.hidden]
        if c.learned_features:
            self.out = nn.Dense(c.learned_features)
        zeros = nn.initializers.zeros
        self.mu0 = self.param("mu0", zeros, (f,))
        self.spec_map = self.param("spec_map", zeros, (SPEC_DIM, f))
        self.cov_factor = self.param("cov_factor", zeros, (f, c.rank))
        self.log_diag = self.param("log_diag", zeros, (f,))
        self.log_noise = self.param("log_noise", nn.initializers.constant(np.log(c.noise)), ())
        self.log_scale = nn.Dense(1)  # log of the device's mean latency (ms) from its specs

    def features(self, op_features: jax.Array) -> jax.Array:
        """φ(x): float32[..., E+1] operator features (one-hot or soft) -> float32[..., F]."""
        if not self.config.learned_features:
            return op_features
        h = op_features
        for layer in self.layers:
            h = nn.relu(layer(h))
        return jnp.concatenate([op_features, jnp.tanh(self.out(h))], axis=-1)

    def _frozen(self, x: jax.Array) -> jax.Array:
        """The prior stays at its empirical value unless ``config.train_prior``: meta-learning
        it on HELP's 9 NB201 training devices overfits them (k = 10 test mean SRCC 0.951 vs
        0.960 frozen; raspi4 improves 0.936 -> 0.968, titan_rtx_256 drops 0.991 -> 0.955)."""
        if self.config.train_prior:
            return x
        return jax.lax.stop_gradient(x)

    def prior_mean(self, spec: jax.Array) -> jax.Array:
        """μ(s): float32[SPEC_DIM] -> float32[F] (scale-free)."""
        spec_map = self.spec_map if self.config.train_prior else 0.0 * self.spec_map
        return self._frozen(self.mu0) + spec @ spec_map

    def prior_cov(self) -> jax.Array:
        factor, log_diag = self._frozen(self.cov_factor), self._frozen(self.log_diag)
        return factor @ factor.T + jnp.diag(jnp.exp(log_diag))

    def spec_scale(self, spec: jax.Array) -> jax.Array:
        """Zero-shot guess of the device's mean latency (ms) from its specs."""
        return jnp.exp(self.log_scale(spec)[0])

    def __call__(self, op_features: jax.Array, spec: jax.Array):
        phi = self.features(op_features)
        return phi, self.prior_mean(spec), self.prior_cov(), self.spec_scale(spec)


class Head(NamedTuple):
    """A device's cost head (the device representation): ``Lat(x; d) = φ(x)ᵀ w`` in ms."""

    w: jax.Array  # float32[F]
    scale: jax.Array  # c_d: the device's latency scale (ms), measured or guessed from specs


def posterior(mean, cov, noise, phi, y, mask):
    """Posterior mean of w ~ N(c·mean, c²·cov) given y = φw + N(0, c²·noise), masked rows.

    phi [K, F], y [K], mask bool[K]; masked rows carry no information. Returns (w, c)."""
    phi = jnp.where(mask[:, None], phi, 0.0)
    y = jnp.where(mask, y, 0.0)
    n = jnp.maximum(mask.sum(), 1)
    c = (y.sum() / n) / jnp.maximum((phi @ mean).sum() / n, 1e-9)
    residual = y - c * phi @ mean
    k, f = phi.shape
    if k <= f:  # function space: a k x k solve
        gram = phi @ cov @ phi.T + noise * jnp.eye(k)
        return c * mean + cov @ phi.T @ jnp.linalg.solve(gram, residual), c
    # weight space, from the sum-pooled statistics Σφφᵀ and Σφr (push-through identity:
    # K φᵀ (φ K φᵀ + σ²I)⁻¹ = (K φᵀφ + σ²I)⁻¹ K φᵀ): an F x F solve for any k
    a = cov @ (phi.T @ phi) + noise * jnp.eye(f)
    return c * mean + jnp.linalg.solve(a, cov @ (phi.T @ residual)), c


def adapt(
    net: LatencyNet,
    params: Params,
    spec: jax.Array,
    op_features: jax.Array | None = None,
    latency_ms: jax.Array | None = None,
    mask: jax.Array | None = None,
) -> Head:
    """The device's head from its specs and k measured pairs (k = 0: ``op_features`` None).

    op_features float32[k, E+1] (``features.operator_features``), latency_ms float32[k],
    optional mask bool[k] (padding rows False). One ensemble member; vmap over members.
    """

    def run(m):
        mean, cov = m.prior_mean(spec), m.prior_cov()
        if op_features is None or op_features.shape[0] == 0:
            return Head(m.spec_scale(spec) * mean, m.spec_scale(spec))
        phi = m.features(op_features)
        valid = jnp.ones(phi.shape[0], bool) if mask is None else mask
        w, c = posterior(mean, cov, jnp.exp(m.log_noise), phi, latency_ms, valid)
        return Head(w, c)

    return nn.apply(run, net)(params)


def predict(net: LatencyNet, params: Params, head: Head, op_features: jax.Array) -> jax.Array:
    """Latency (ms) of architectures on the device of ``head``: float32[N, E+1] -> [N].

    ``head.w`` may stack devices, [..., F] -> [..., N]: the features are computed once."""
    return nn.apply(lambda m: jnp.einsum("nf,...f->...n", m.features(op_features), head.w), net)(
        params
    )


class TrainedLatency(NamedTuple):
    net: LatencyNet
    params: Params  # ensemble: leading axis = members
    result: FitResult
    seconds: float


def heads(
    trained: TrainedLatency,
    data: LatencyData,
    device: int,
    support: np.ndarray,
) -> Head:
    """Every member's head for ``device`` (index into ``data``) from the latencies of the
    ``support`` archs (indices; empty = zero-shot). Leading axis = members."""
    spec = data.specs[device]
    if len(support) == 0:
        return jax.vmap(lambda p: adapt(trained.net, p, spec))(trained.params)
    x, y = data.op_features[support], data.latency_ms[device, support]
    return jax.vmap(lambda p: adapt(trained.net, p, spec, x, y))(trained.params)


def predict_ensemble(
    trained: TrainedLatency, head: Head, op_features: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(mean, std) over members of the predicted latency (ms) of float32[N, E+1] archs."""
    preds = jax.vmap(lambda p, h: predict(trained.net, p, h, op_features))(trained.params, head)
    return preds.mean(0), preds.std(0)
