"""The accuracy predictor ``Acc_{Θ_A}(x)`` of thesis §1.5.2 Stage 1: an MLP or an exact GP
(its kernel, likelihood and posterior are :mod:`l2o.predictors.gp`), or, for a space whose every
architecture is measured, the table itself (:func:`table_accuracy`).

Accuracy depends on the design alone, not on a device, so one predictor serves every device in
the objective of Eq. 1.8. Both options read ``space.one_hot(arch)`` and are fitted by
:func:`l2o.predictors.fitting.fit`; both return the predictor interface every l2o component
sees, ``(params, apply)`` with ``apply(params, archs int32[N, L]) -> accuracy % float32[N]``,
as :func:`l2o.predictors.ofa.make_ofa_accuracy` does. Pick one through ``ACCURACY_PREDICTORS``,
calling the entry with keywords ``key, space, archs, accuracy, config``.

Measured on NB201 CIFAR-100, trained on 1000 random archs (seed 0), tested on the other 14625
(tests/test_accuracy_predictor.py): MLP SRCC 0.929, RMSE 4.9 points; GP SRCC 0.911, RMSE 3.7.
Outputs are not clipped, to keep gradients: NB201 cells with no input-output path (true 1 %) can
be predicted below 0 % (MLP down to about -30 %), which only ranks them lower still.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from l2o.predictors.fitting import FitConfig, fit, mse
from l2o.predictors.gp import (
    gp_hyper_init,
    gp_neg_log_marginal_likelihood,
    make_gp_apply,
    posterior_weights,
)
from l2o.predictors.mlp import MLP, standardise
from l2o.spaces.base import Space

Params = Any
Apply = Callable[[Params, jax.Array], jax.Array]


def _check_data(space: Space, archs: Any, accuracy: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated training data: int32[N, L] archs and float64[N] accuracy in %."""
    archs = space.validate(archs)
    if archs.ndim != 2:
        raise ValueError(f"archs must be a batch int[N, {space.num_slots}]; got {archs.shape}")
    accuracy = np.asarray(accuracy, np.float64)
    if accuracy.shape != (len(archs),):
        raise ValueError(
            f"accuracy must have one value per arch, shape ({len(archs)},); got "
            f"{accuracy.shape}; pass the accuracy of each row of archs in the same order"
        )
    if len(archs) < 2:
        raise ValueError(f"need at least 2 training archs to standardise targets; got {len(archs)}")
    if not np.isfinite(accuracy).all():
        raise ValueError(
            f"accuracy has {int((~np.isfinite(accuracy)).sum())} NaN/inf values; "
            "drop those archs or impute their accuracy first"
        )
    if accuracy.min() < 0 or accuracy.max() > 100:
        raise ValueError(
            f"accuracy is in percent, 0...100; got {accuracy.min():.4g}...{accuracy.max():.4g}"
        )
    return archs, accuracy


# --- MLP ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AccuracyConfig:
    """MLP settings; ``fit.seed`` orders the minibatches, the key splits and initialises."""

    hidden: tuple[int, ...] = (256, 256)
    fit: FitConfig = FitConfig(learning_rate=3e-3, batch_size=64, max_epochs=300, patience=20)
    val_fraction: float = 0.1  # of the given archs, held out for early stopping

    def __post_init__(self):
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(
                f"hidden sizes must be positive ints, e.g. (256, 256); got {self.hidden}"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1); got {self.val_fraction}")


def make_mlp_apply(space: Space, hidden: Sequence[int] = (256, 256)) -> Apply:
    """``apply(params, archs int32[N, L]) -> accuracy % float32[N]`` for an MLP."""
    model = MLP(tuple(hidden))

    def apply(params: Params, archs: jax.Array) -> jax.Array:
        z = model.apply({"params": params["net"]}, space.one_hot_batch(archs))
        return z * params["std"] + params["mean"]

    return apply


def fit_accuracy_mlp(
    key: jax.Array,
    space: Space,
    archs: Any,
    accuracy: Any,
    config: AccuracyConfig = AccuracyConfig(),
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[Params, Apply, dict]:
    """Train an MLP by MSE on standardised accuracy (Stage 1), early-stopped on a split.

    archs int[N, L], accuracy float[N] in % -> (params, apply, info). ``val_fraction`` of the
    archs (at least one) is held out for early stopping; params carry the target mean and std so
    ``apply`` returns %. info: best_epoch, train_seconds, n_train, n_val. The key is consumed.
    """
    if not isinstance(config, AccuracyConfig):
        raise ValueError(f"fit_accuracy_mlp takes an AccuracyConfig; got {type(config).__name__}")
    archs, accuracy = _check_data(space, archs, accuracy)
    y, mean, std = standardise(accuracy)
    x = space.one_hot_batch(archs)
    n = len(archs)
    n_val = max(1, round(config.val_fraction * n)) if config.val_fraction > 0 else 0
    split_key, init_key = jax.random.split(key)
    order = np.asarray(jax.random.permutation(split_key, n))
    train = {"x": x[order[n_val:]], "y": jnp.asarray(y[order[n_val:]])}
    val = {"x": x[order[:n_val]], "y": jnp.asarray(y[order[:n_val]])} if n_val else None

    model = MLP(config.hidden)

    def loss_fn(net: Params, batch: dict) -> jax.Array:
        return mse(model.apply({"params": net}, batch["x"]), batch["y"])

    start = time.perf_counter()
    result = fit(model.init(init_key, x[:1])["params"], loss_fn, train, val, config.fit, progress)
    seconds = time.perf_counter() - start
    params = {"net": result.params, "mean": mean, "std": std}
    info = dict(best_epoch=result.best_epoch, train_seconds=seconds, n_train=n - n_val, n_val=n_val)
    return params, make_mlp_apply(space, config.hidden), info


# --- Gaussian process (fitted on data; the GP itself is l2o.predictors.gp) -------------------


@dataclasses.dataclass(frozen=True)
class GPConfig:
    """Exact-GP settings: kernel depth and the Adam run on the log marginal likelihood."""

    depth: int = 3  # ReLU layers of the arc-cosine kernel
    steps: int = 100  # full-batch Adam steps; on NB201 as good as 200 at learning rate 0.05
    learning_rate: float = 0.1
    patience: int = 20  # steps without a likelihood improvement before stopping
    min_noise: float = 1e-3  # noise variance floor, in standardised units; keeps float32 stable
    max_points: int = 5000  # exact GP: O(N^3) time, O(N^2) memory

    def __post_init__(self):
        if self.depth < 1 or self.steps < 0 or self.patience < 1:
            raise ValueError(f"need depth >= 1, steps >= 0, patience >= 1; got {self}")
        if not (self.min_noise > 0 and self.learning_rate > 0):
            raise ValueError(f"need min_noise > 0 and learning_rate > 0; got {self}")


def condition_gp(space: Space, archs, accuracy, hyper: dict, config: GPConfig = GPConfig()):
    """GP posterior params for given log-hyper-parameters (``gp_hyper_init``'s keys).

    archs int[M, L], accuracy float[M] in % -> params: the hyper-parameters, encodings
    ``x`` float32[M, E], Cholesky factor ``chol`` float32[M, M], weights ``alpha`` = K⁻¹y
    float32[M] and the target ``mean``, ``std`` that map standardised values back to %.
    """
    archs, accuracy = _check_data(space, archs, accuracy)
    y, mean, std = standardise(accuracy)
    x = space.one_hot_batch(archs)
    chol, alpha = posterior_weights(hyper, x, jnp.asarray(y), config.depth, config.min_noise)
    if not bool(jnp.isfinite(chol).all()):
        raise FloatingPointError(
            "GP: the kernel matrix is not positive definite in float32; "
            "raise GPConfig.min_noise or drop duplicate archs"
        )
    return {**hyper, "x": x, "chol": chol, "alpha": alpha, "mean": mean, "std": std}


def fit_accuracy_gp(
    space: Space,
    archs: Any,
    accuracy: Any,
    config: GPConfig = GPConfig(),
    key: jax.Array | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[Params, Apply, dict]:
    """Exact GP regression on one-hots, hyper-parameters by maximum marginal likelihood.

    archs int[N, L], accuracy float[N] in % -> (params, apply, info). Full-batch Adam on the
    log-hyper-parameters through ``fit`` (one epoch = one step), then Cholesky conditioning on
    all N. Deterministic: ``key`` is unused, accepted so registry entries share keywords. Use
    ``make_gp_apply(space, config.depth)[1]`` for the posterior std. info: best_epoch (the
    step of lowest likelihood loss), train_seconds, n_train, steps, nlml_initial and nlml_final
    (negative log marginal likelihood per point, standardised targets).
    """
    if not isinstance(config, GPConfig):
        raise ValueError(f"fit_accuracy_gp takes a GPConfig; got {type(config).__name__}")
    archs, accuracy = _check_data(space, archs, accuracy)
    n = len(archs)
    if n > config.max_points:
        raise ValueError(
            f"exact GP on {n} archs exceeds GPConfig.max_points={config.max_points} (O(N^3)); "
            "subsample the archs or use the MLP"
        )
    y, _, _ = standardise(accuracy)
    data = {"x": space.one_hot_batch(archs), "y": jnp.asarray(y)}

    def loss_fn(hyper: dict, batch: dict) -> jax.Array:
        x, y = batch["x"], batch["y"]
        return gp_neg_log_marginal_likelihood(hyper, x, y, config.depth, config.min_noise)

    fit_config = FitConfig(config.learning_rate, 0.0, n, config.steps, config.patience)
    start = time.perf_counter()
    result = fit(gp_hyper_init(space.encoding_size), loss_fn, data, None, fit_config, progress)
    params = condition_gp(space, archs, accuracy, result.params, config)
    seconds = time.perf_counter() - start
    # Eq. 2.30 again, from the factor just computed: ½ yᵀα + Σ log L_ii + ½ N log 2π, per point.
    fit_term = 0.5 * data["y"] @ params["alpha"] + jnp.sum(jnp.log(jnp.diag(params["chol"])))
    nlml = float(fit_term / n + 0.5 * np.log(2 * np.pi))
    info = dict(
        best_epoch=result.best_epoch,
        train_seconds=seconds,
        n_train=n,
        steps=len(result.train_loss),
        nlml_initial=result.train_loss[0] if result.train_loss else nlml,
        nlml_final=nlml,
    )
    return params, make_gp_apply(space, config.depth)[0], info


# --- the measured table ---------------------------------------------------------------------


def dense_table(space: Space, archs: Any, accuracy: Any) -> np.ndarray:
    """Every architecture's measured accuracy of an enumerable space as a dense tensor indexed
    by the genome: float32[C_1, ..., C_L]. ``archs`` must list each architecture exactly once."""
    archs, accuracy = _check_data(space, archs, accuracy)
    cards = tuple(space.cardinalities)
    table = np.full(cards, np.nan, np.float32)
    table[tuple(archs.T)] = accuracy
    if len(archs) != table.size or np.isnan(table).any():
        raise ValueError(
            f"{space.name}: a table accuracy needs every one of the {table.size} architectures "
            f"once; got {len(archs)} rows covering {int((~np.isnan(table)).sum())}"
        )
    return table


def table_accuracy(table: jax.Array, cardinalities: Sequence[int]) -> Callable:
    """The measured table as ``Acc(x)`` on flat (relaxed) one-hot encodings [..., E] -> %: its
    multilinear extension ``Σ_a Π_i x_i[a_i] T[a]``, exactly ``T[a]`` on a one-hot design and
    the expected accuracy of the slot-wise independent choice on a relaxed one, so Method 2's
    gradients pass through it. Contracted one slot at a time, last first: Σ_i Π_{j<=i} C_j
    multiply-adds per design (19 531 on NB201, against 73 000 for the 256 x 256 MLP)."""
    cards = tuple(int(c) for c in cardinalities)
    splits = np.cumsum(cards)[:-1]

    def accuracy(x: jax.Array) -> jax.Array:
        parts = jnp.split(x, splits, axis=-1)
        out = jnp.einsum("...k,jk->...j", parts[-1], table.reshape(-1, cards[-1]))
        for part, c in zip(parts[-2::-1], cards[-2::-1]):
            out = jnp.einsum("...k,...jk->...j", part, out.reshape(*out.shape[:-1], -1, c))
        return out[..., 0]

    return accuracy


# Every entry is called with keywords: fn(key=, space=, archs=, accuracy=, config=).
ACCURACY_PREDICTORS: dict[str, Callable[..., tuple[Params, Apply, dict]]] = {
    "mlp": fit_accuracy_mlp,
    "gp": fit_accuracy_gp,
}
