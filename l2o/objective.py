"""The design objectives of thesis §1.3-1.4, on batches of architectures.

Every form takes metric values (accuracy in %, latency in ms, energy in mJ), first mapped by a
stated :class:`Normalisation` ``v -> (v - lo) / (hi - lo)`` (identity by default; min-max over
the space or a sample is the usual choice, so that t = 0.5 weighs both terms alike):

- :func:`relaxed`: ``f(x; d, λ) = -Acc + λ1·Energy + λ2·Latency`` (Eq. 1.4, predicted: Eq. 1.8);
- :func:`t_form`: ``-(1 - t)·Acc + t·Lat`` (Eq. 1.6) and :func:`t_form_energy`
  ``-(1 - t1 - t2)·Acc + t1·Energy + t2·Lat`` (Eq. 1.7's two-constraint extension);
- :func:`constrained`: Eq. 1.1-1.3 as ``-Acc + penalty·Σ relative violations`` with the
  feasibility mask, so searches never need rejection loops.

A metric is any ``archs int32[N, L] -> float32[N]``: a trained network's ``apply`` bound to its
params, a measured table (:func:`table_metric`), or a simulator. For the optimizer network the
soft forms take per-slot probabilities instead of one architecture: :func:`soft_one_hot` feeds
them to networks that read one-hot encodings; a measured table's exact expectation under
independent slots is its multilinear extension (:func:`l2o.predictors.accuracy.table_accuracy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from l2o.spaces.base import Space

Metric = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Normalisation:
    """``(lo, hi)`` per metric; each value maps to ``(v - lo) / (hi - lo)``."""

    accuracy: tuple[float, float] = (0.0, 1.0)
    latency: tuple[float, float] = (0.0, 1.0)
    energy: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self):
        for name in ("accuracy", "latency", "energy"):
            lo, hi = getattr(self, name)
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise ValueError(f"Normalisation.{name} needs finite lo < hi; got {(lo, hi)}")

    @classmethod
    def min_max(cls, accuracy=None, latency=None, energy=None) -> Normalisation:
        """Ranges from sample values (e.g. every arch of the space) of each metric given."""
        ranges = {}
        for name, v in (("accuracy", accuracy), ("latency", latency), ("energy", energy)):
            if v is not None:
                v = np.asarray(v, np.float64)
                ranges[name] = (float(v.min()), float(v.max()))
        return cls(**ranges)

    def __call__(self, name: str, values: jax.Array) -> jax.Array:
        lo, hi = getattr(self, name)
        return (values - lo) / (hi - lo)


IDENTITY = Normalisation()


def relaxed(acc, lat, energy=None, lam1=0.0, lam2=0.0, norm: Normalisation = IDENTITY):
    """Eq. 1.4 / 1.8: ``-Acc + λ1·Energy + λ2·Latency`` (energy None: no energy term)."""
    f = -norm("accuracy", acc) + lam2 * norm("latency", lat)
    return f if energy is None else f + lam1 * norm("energy", energy)


def t_form(acc, lat, t, norm: Normalisation = IDENTITY):
    """Eq. 1.6: ``-(1 - t)·Acc + t·Lat`` with t in [0, 1]."""
    return -(1.0 - t) * norm("accuracy", acc) + t * norm("latency", lat)


def t_form_energy(acc, lat, energy, t1, t2, norm: Normalisation = IDENTITY):
    """Eq. 1.7's extension to energy: ``-(1 - t1 - t2)·Acc + t1·Energy + t2·Lat``."""
    return (
        -(1.0 - t1 - t2) * norm("accuracy", acc)
        + t1 * norm("energy", energy)
        + t2 * norm("latency", lat)
    )


def constrained(acc, lat, lat_max, energy=None, energy_max=None, penalty=100.0, norm=IDENTITY):
    """Eq. 1.1-1.3 as a penalty: ``(-Acc + penalty·Σ relu(metric / bound - 1), feasible)``.

    Feasible designs keep ``-Acc``; infeasible ones rank behind every feasible one when
    ``penalty`` exceeds the accuracy range divided by the smallest relative violation that
    matters."""
    violation = jax.nn.relu(lat / lat_max - 1.0)
    if energy is not None:
        violation = violation + jax.nn.relu(energy / energy_max - 1.0)
    return -norm("accuracy", acc) + penalty * violation, violation == 0


# --- metric sources ---------------------------------------------------------------------------


def table_metric(space: Space, values) -> Metric:
    """A metric from a table measured on EVERY arch of a space whose archs index a dense grid
    (NB201: ``values`` float[15625] in NB201 index order)."""
    values = np.asarray(values, np.float32)
    if not hasattr(space, "to_index") or values.shape != (space.size,):
        raise ValueError(
            f"table_metric needs one value per arch of an enumerable space ({space.size} for "
            f"{space.name}); got shape {values.shape}. Use a trained predictor elsewhere"
        )
    by_code = jnp.asarray(_by_code(space, values))
    radix = jnp.asarray(_radix(space))

    def metric(archs: jax.Array) -> jax.Array:
        return by_code[jnp.asarray(archs) @ radix]

    return metric


def _radix(space: Space) -> np.ndarray:
    cards = np.asarray(space.cardinalities)
    return np.concatenate([[1], np.cumprod(cards[:-1])]).astype(np.int32)


def _by_code(space: Space, values: np.ndarray) -> np.ndarray:
    """``values`` (one per arch, in the space's enumeration order) reordered by genome code
    ``Σ a_l · radix_l``, so a genome indexes its value directly."""
    out = np.empty_like(values)
    out[np.asarray(space.enumerate()) @ _radix(space)] = values
    return out


def soft_one_hot(space: Space, probs: jax.Array) -> jax.Array:
    """Per-slot probabilities float[..., L, C_max] -> the relaxed one-hot float[..., E] that
    networks reading ``space.one_hot`` accept (a one-hot row gives ``space.one_hot`` exactly)."""
    return jnp.concatenate([probs[..., i, :c] for i, c in enumerate(space.cardinalities)], axis=-1)


def constrained_exact(acc, lat, lat_max, norm: Normalisation = IDENTITY):
    """Eq. 1.1-1.3 exactly: ``-Acc`` within the bound, ``+inf`` over it (no gradient across the
    boundary: for scoring and exhaustive search, not for training)."""
    return jnp.where(lat <= lat_max, -norm("accuracy", acc), jnp.inf)


PERCENT = Normalisation(accuracy=(0.0, 100.0))  # accuracy in % as a fraction


def augmented_lagrangian(acc, lat, lam, target, rho=0.0, norm: Normalisation = IDENTITY):
    """``-Acc + λ·g + (ρ/2)·g²`` with ``g = Lat/T - 1``: LightNAS's relaxed latency term
    (``ρ = 0``) and the method-of-multipliers term that lets a scalarised search reach designs
    off the convex hull of the front (``ρ > 0``), so a target can be hit, not only bracketed."""
    g = lat / target - 1.0
    return -norm("accuracy", acc) + lam * g + 0.5 * rho * g**2
