"""Meta-training of the latency network ``Lat(x; d)`` (:mod:`l2o.predictors.latency`) on
episodes, ALPaCA-style: a training device, k support pairs drawn at random (k from ``ks``), the
posterior head from them, and a loss on query architectures of the same device.

The prior starts at the empirical one of the training devices' min-norm operator-level fits
(:func:`l2o.predictors.features.min_norm_lstsq`); the whole ensemble trains in one run of
:func:`l2o.predictors.fitting.fit` (its members are independent), early-stopped on validation
devices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from l2o.predictors.features import LatencyData, min_norm_lstsq
from l2o.predictors.fitting import fit, fit_with_checkpoints
from l2o.predictors.latency import (
    LatencyNet,
    LatencyNetConfig,
    Params,
    TrainedLatency,
    posterior,
)


def _empirical_prior(data, devices, pool, config: LatencyNetConfig, f: int):
    """μ₀, U, log diag of the training devices' scale-free min-norm operator costs (padded to F
    with zeros for the learned features)."""
    x = np.asarray(data.op_features[pool], np.float64)
    lat = np.asarray(data.latency_ms, np.float64)[np.ix_(devices, pool)]
    if config.synthetic_flops:  # thesis Algorithm 2's synthetic devices D_S: latency = MACs
        lat = np.concatenate([lat, np.asarray(data.macs, np.float64)[None, pool]])
    costs = min_norm_lstsq(x, (lat / lat.mean(1, keepdims=True)).T, rcond=1e-8).T  # [D, E+1]
    e = costs.shape[1]
    mean = np.zeros(f)
    mean[:e] = costs.mean(0)
    cov = np.cov(costs.T) if len(costs) > 1 else np.zeros((e, e))
    vals, vecs = np.linalg.eigh(cov)
    top = np.argsort(vals)[::-1][: config.rank]
    factor = np.zeros((f, config.rank))
    factor[:e, : len(top)] = vecs[:, top] * np.sqrt(np.maximum(vals[top], 0))
    diag = np.full(f, max(config.eps * np.trace(cov) / e, 1e-8))
    diag[e:] *= 0.1  # learned features start nearly unused
    return mean, factor, np.log(diag)


def init_params(
    key: jax.Array,
    data: LatencyData,
    devices: Sequence[int],
    pool: np.ndarray,
    config: LatencyNetConfig,
) -> tuple[LatencyNet, Params]:
    """An ensemble (leading axis ``config.members``) of params: each member's prior at the
    empirical one of ``devices`` (indices into ``data``) measured on ``pool`` archs, its feature
    MLP at its own random init."""
    net = LatencyNet(data.op_features.shape[1], config)
    f = data.op_features.shape[1] + config.learned_features
    devices = np.asarray(devices)
    mean, factor, log_diag = _empirical_prior(data, devices, pool, config, f)
    lat = np.asarray(data.latency_ms)[np.ix_(devices, pool)]
    log_mean = float(np.log(lat.mean(1)).mean())

    def one(k):
        inner = dict(net.init(k, data.op_features[:1], data.specs[0])["params"])
        inner.update(
            mu0=jnp.asarray(mean, jnp.float32),
            cov_factor=jnp.asarray(factor, jnp.float32),
            log_diag=jnp.asarray(log_diag, jnp.float32),
            log_scale={
                "kernel": jnp.zeros_like(inner["log_scale"]["kernel"]),
                "bias": jnp.full_like(inner["log_scale"]["bias"], log_mean),
            },
        )
        return {"params": inner}

    return net, jax.vmap(one)(jax.random.split(key, config.members))


def episode_loss(
    net: LatencyNet,
    params: Params,
    data: LatencyData,
    pool: jax.Array,
    device: jax.Array,
    k: jax.Array,
    key: jax.Array,
    config: LatencyNetConfig,
) -> jax.Array:
    """Loss of one member on one episode: device index, support size k (<= max ks), key."""
    k_max = max(max(config.ks), 1)
    ks, kq = jax.random.split(key)
    support = pool[jax.random.randint(ks, (k_max,), 0, pool.shape[0])]
    query = pool[jax.random.randint(kq, (config.query,), 0, pool.shape[0])]
    y_s, y_q = data.latency_ms[device, support], data.latency_ms[device, query]
    spec = data.specs[device]

    def run(m):
        mean, cov = m.prior_mean(spec), m.prior_cov()
        phi_s, phi_q = m.features(data.op_features[support]), m.features(data.op_features[query])
        mask = jnp.arange(k_max) < k
        w, _ = posterior(mean, cov, jnp.exp(m.log_noise), phi_s, y_s, mask)
        # relative errors, with the denominator floored at a tenth of the device's typical
        # latency: some devices report ~0.003 ms for cells that compute nothing (pixel3)
        denom = jnp.maximum(y_q, config.relative_floor * y_q.mean())
        pred_post = phi_q @ w
        # k = 0: the scale is unknown from data; score the shape at its best scale and train the
        # spec scale head towards the device's measured mean latency
        shape0 = phi_q @ mean / denom
        best = jax.lax.stop_gradient(
            (shape0 * y_q / denom).sum() / jnp.maximum((shape0**2).sum(), 1e-12)
        )
        scale_loss = (jnp.log(m.spec_scale(spec)) - jnp.log(y_q.mean())) ** 2
        zero_shot = k == 0
        pred = jnp.where(zero_shot, best * phi_q @ mean, pred_post)
        rel = jnp.mean(((pred - y_q) / denom) ** 2)
        half = config.query // 2
        a, b, ya, yb = pred[:half], pred[half : 2 * half], y_q[:half], y_q[half : 2 * half]
        gap = (a - b) / (0.5 * (denom[:half] + denom[half : 2 * half]) * config.rank_temperature)
        rank = jnp.mean(jax.nn.softplus(-jnp.sign(ya - yb) * gap)) * config.rank_temperature
        return rel + config.rank_weight * rank + jnp.where(zero_shot, 0.1 * scale_loss, 0.0)

    return nn.apply(run, net)(params)


def _episodes(key, devices: np.ndarray, n: int, ks: Sequence[int]) -> dict:
    """n episodes: device indices, support sizes and raw keys, spread evenly over devices."""
    kd, kk, kr = jax.random.split(key, 3)
    return {
        "device": jnp.asarray(devices)[jax.random.randint(kd, (n,), 0, len(devices))],
        "k": jnp.asarray(ks)[jax.random.randint(kk, (n,), 0, len(ks))],
        "key": jax.random.key_data(jax.random.split(kr, n)),
    }


def train_latency_net(
    data: LatencyData,
    train_devices: Sequence[int],
    val_devices: Sequence[int],
    config: LatencyNetConfig = LatencyNetConfig(),  # noqa: B008 (frozen: immutable)
    pool: np.ndarray | None = None,
    seed: int = 0,
    progress: Callable[[int, float, float], None] | None = None,
    checkpoint_dir: str | None = None,
) -> TrainedLatency:
    """Meta-train an ensemble on the training devices (indices into ``data``), early-stopped on
    validation devices at k = ``config.val_k``. ``pool``: the archs measured on the training
    devices (indices; all by default). With ``checkpoint_dir`` the run is checkpointed there
    every epoch and resumes from it (``l2o.predictors.fitting.fit_with_checkpoints``)."""
    if len(train_devices) < 2:
        raise ValueError("train_latency_net needs at least two training devices")
    n = data.op_features.shape[0]
    pool = np.arange(n) if pool is None else np.asarray(pool)
    if len(pool) < 2:
        raise ValueError("pool must hold at least two measured architectures")
    start = time.perf_counter()
    key = jax.random.key(seed)
    k_init, k_train, k_val = jax.random.split(key, 3)
    net, params = init_params(k_init, data, train_devices, pool, config)
    train = _episodes(k_train, np.asarray(train_devices), config.episodes, config.ks)
    val_devices = list(val_devices) or list(train_devices)
    n_val = config.val_episodes * len(val_devices)
    val = _episodes(k_val, np.asarray(val_devices), n_val, (config.val_k,))
    pool_j, members = jnp.asarray(pool), jnp.arange(config.members)

    def member_loss(p, batch, m):
        keys = jax.vmap(lambda kd: jax.random.fold_in(jax.random.wrap_key_data(kd), m))(
            batch["key"]
        )
        losses = jax.vmap(lambda d, k, kk: episode_loss(net, p, data, pool_j, d, k, kk, config))(
            batch["device"], batch["k"], keys
        )
        return losses.mean()

    def loss(p, batch):  # members are independent: the sum's gradient is each one's own
        return jax.vmap(member_loss, in_axes=(0, None, 0))(p, batch, members).sum()

    if checkpoint_dir is None:
        result = fit(params, loss, train, val, config.fit, progress)
    else:
        result = fit_with_checkpoints(
            params, loss, train, val, config.fit, checkpoint_dir, every=1, progress=progress
        )
    return TrainedLatency(net, result.params, result, time.perf_counter() - start)
