"""Device-specific latency baselines: the predictors the state of the art builds per device.

Thesis §3.5.4 ("A close look at SOTA latency predictors") and HELP's comparisons: an
operator-level linear predictor ``l = wᵀx`` on the one-hot of the searchable operators plus a
constant 1 for the non-searchable part (:func:`fit_linear`), a small per-device MLP
(:func:`fit_device_mlp`) and the zero-cost FLOPs proxy (:func:`flops_predictor`).

Every baseline is ``(params, apply)`` with ``apply(params, archs int32[N, L]) -> float32[N]``,
latency in ms (MACs for the FLOPs proxy, which only ranks). ``apply`` is jit- and vmap-friendly;
fitting runs eagerly on host data. :data:`LATENCY_BASELINES` maps a name to a fitter with one
call signature, used through :func:`fit_baseline`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from l2o.predictors.features import min_norm_lstsq, operator_features
from l2o.predictors.fitting import FitConfig, fit, mse
from l2o.predictors.mlp import MLP, standardise
from l2o.spaces import Space

Apply = Callable[[Any, jax.Array], jax.Array]


def _check_data(space: Space, archs, latency_ms, positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validated archs int32[N, L] and latency float64[N] (ms), or a ValueError saying why."""
    archs = space.validate(archs)
    y = np.asarray(latency_ms, np.float64)
    if archs.ndim != 2 or y.shape != archs.shape[:1]:
        raise ValueError(
            f"pass archs int[N, {space.num_slots}] and one latency per arch float[N]; got "
            f"archs {archs.shape} and latency_ms {y.shape}"
        )
    if len(y) == 0:
        raise ValueError("no measured architectures: pass at least one (arch, latency) pair")
    if not np.isfinite(y).all():
        raise ValueError(f"latency_ms has {int((~np.isfinite(y)).sum())} NaN/inf values; drop them")
    if positive and (y <= 0).any():
        raise ValueError(
            f"latency_ms has {int((y <= 0).sum())} values <= 0 ms; the MLP fits log-latency, so "
            "drop or fix those measurements"
        )
    return archs, y


# --- operator-level linear predictor ---------------------------------------------------------


def linear_apply(space: Space) -> Apply:
    """``apply(params, archs int32[N, L]) -> latency ms float32[N]`` of ``l = wᵀx``."""

    def apply(params: dict, archs: jax.Array) -> jax.Array:
        return operator_features(space, archs) @ params["w"]

    return apply


def fit_linear(space: Space, archs, latency_ms, rcond: float = 1e-10) -> tuple[dict, Apply]:
    """Operator-level latency predictor ``l = wᵀx`` (thesis §3.5.4), fit by least squares.

    archs int[N, L], latency_ms float[N] (ms) -> ``({"w": float32[E+1]}, apply)``; ``w[-1]`` is
    the constant part. The one-hot design is rank-deficient (each unmasked slot's one-hot sums
    to 1, like the constant column), so ``w`` is the MINIMUM-NORM solution: unique, orthogonal to
    the design's null space, and with no arbitrary offsets traded between slots, so each
    coordinate is a well-scaled per-operator latency that AdaProxy (Eq. 3.3) can rescale.
    ``rcond`` is the relative singular-value cutoff.
    """
    archs, y = _check_data(space, archs, latency_ms, positive=False)
    if not 0 < rcond < 1:
        raise ValueError(f"rcond is a relative singular-value cutoff in (0, 1); got {rcond}")
    x = np.asarray(operator_features(space, archs), np.float64)
    w = min_norm_lstsq(x, y, rcond)
    return {"w": jnp.asarray(w, jnp.float32)}, linear_apply(space)


# --- per-device MLP ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeviceMLPConfig:
    """Settings of the per-device MLP; ``fit.seed`` is ignored (the key decides)."""

    hidden: tuple[int, ...] = (64, 64)
    val_fraction: float = 0.2  # held out for early stopping when that leaves >= min_val archs
    min_val: int = 5
    fixed_epochs: int = 300  # epochs without early stopping when fewer archs are measured
    fit: FitConfig = FitConfig(learning_rate=3e-3, batch_size=32, max_epochs=500, patience=40)


def device_mlp_apply(space: Space, hidden: tuple[int, ...]) -> Apply:
    """``apply(params, archs int32[N, L]) -> latency ms float32[N]`` of the per-device MLP.

    ``params = {"net": ..., "log_mean": [], "log_std": []}``: the net predicts standardised
    log-latency.
    """
    net = MLP(hidden)

    def apply(params: dict, archs: jax.Array) -> jax.Array:
        z = net.apply(params["net"], space.one_hot_batch(archs))
        return jnp.exp(params["log_mean"] + params["log_std"] * z)

    return apply


def _split(key: jax.Array, n: int, config: DeviceMLPConfig) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices; no validation rows when too few archs are measured."""
    n_val = int(round(config.val_fraction * n))
    if n_val < config.min_val or n - n_val < 1:
        return np.arange(n), np.arange(0)
    perm = np.asarray(jax.random.permutation(key, n))
    return perm[n_val:], perm[:n_val]


def fit_device_mlp(
    key: jax.Array, space: Space, archs, latency_ms, config: DeviceMLPConfig = DeviceMLPConfig()
) -> tuple[dict, Apply, dict]:
    """A per-device MLP on the one-hot, trained with MSE on standardised log-latency via ``fit``.

    archs int[N, L], latency_ms float[N] (ms, > 0) -> ``(params, apply, info)``. The key is
    consumed: it draws the init, the validation split and the shuffling. Early stopping holds
    out ``val_fraction`` of the archs when that is at least ``min_val`` archs (N >= 23 by
    default); for fewer (k = 5...22 measurements) every arch trains for ``fixed_epochs``, since
    a validation set of 1-4 archs would stop at noise. ``info`` holds ``best_epoch``,
    ``train_loss``/``val_loss`` histories and the ``n_train``/``n_val`` sizes.
    """
    archs, y = _check_data(space, archs, latency_ms, positive=True)
    if not 0 <= config.val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1); got {config.val_fraction}")
    k_init, k_split, k_fit = jax.random.split(key, 3)
    z, log_mean, log_std = standardise(np.log(y), min_std=1e-6)
    data = {"x": space.one_hot_batch(archs), "z": jnp.asarray(z)}
    train_idx, val_idx = _split(k_split, len(y), config)
    train = jax.tree_util.tree_map(lambda a: a[train_idx], data)
    val = jax.tree_util.tree_map(lambda a: a[val_idx], data) if len(val_idx) else None
    fit_config = dataclasses.replace(
        config.fit,
        seed=int(jax.random.randint(k_fit, (), 0, 2**31 - 1)),
        max_epochs=config.fit.max_epochs if val is not None else config.fixed_epochs,
    )
    net = MLP(config.hidden)

    def loss_fn(net_params, batch):
        return mse(net.apply(net_params, batch["x"]), batch["z"])

    result = fit(net.init(k_init, data["x"][:1]), loss_fn, train, val, fit_config)
    params = {
        "net": result.params,
        "log_mean": log_mean,
        "log_std": log_std,
    }
    info = {
        "best_epoch": result.best_epoch,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "n_train": len(train_idx),
        "n_val": len(val_idx),
    }
    return params, device_mlp_apply(space, config.hidden), info


# --- FLOPs proxy ---------------------------------------------------------------------------------


def flops_predictor(space: Space) -> tuple[dict, Apply]:
    """The zero-cost proxy: ``apply(params, archs int32[..., L]) -> MACs float32[...]``.

    No training and no params (``{}``). MACs, not ms: use it to rank. ``space.macs`` runs on the
    host through ``jax.pure_callback``, so ``apply`` still works under jit and vmap.
    """

    def host_macs(archs: np.ndarray) -> np.ndarray:
        flat = np.asarray(archs).reshape(-1, space.num_slots)
        return space.macs(flat).reshape(archs.shape[:-1]).astype(np.float32)

    def apply(params: dict, archs: jax.Array) -> jax.Array:
        del params
        archs = jnp.asarray(archs, jnp.int32)
        out = jax.ShapeDtypeStruct(archs.shape[:-1], jnp.float32)
        return jax.pure_callback(host_macs, out, archs, vmap_method="expand_dims")

    return {}, apply


# --- registry ----------------------------------------------------------------------------------

Fitter = Callable[[jax.Array, Space, Any, Any], tuple[Any, Apply]]

LATENCY_BASELINES: dict[str, Fitter] = {
    "linear": lambda key, space, archs, latency_ms: fit_linear(space, archs, latency_ms),
    "mlp": lambda key, space, archs, latency_ms: fit_device_mlp(key, space, archs, latency_ms)[:2],
    "flops": lambda key, space, archs, latency_ms: flops_predictor(space),
}


def fit_baseline(name: str, key: jax.Array, space: Space, archs, latency_ms) -> tuple[Any, Apply]:
    """Fit the baseline ``name`` of :data:`LATENCY_BASELINES` with its default settings.

    archs int[N, L], latency_ms float[N] (ms) -> ``(params, apply)``. The key is consumed (only
    the MLP uses it).
    """
    if name not in LATENCY_BASELINES:
        raise ValueError(
            f"unknown latency baseline {name!r}; choose from {list(LATENCY_BASELINES)}"
        )
    return LATENCY_BASELINES[name](key, space, archs, latency_ms)
