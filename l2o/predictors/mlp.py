"""The ReLU MLP and target standardisation that the trained predictors share."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class MLP(nn.Module):
    """ReLU MLP with one output: float32[..., E] -> float32[...]."""

    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]


def standardise(
    values: np.ndarray, min_std: float = 0.0
) -> tuple[np.ndarray, jax.Array, jax.Array]:
    """(z float32[N], mean, std) with ``z = (values - mean) / std``; std is 1 when it is not
    above ``min_std`` (a single value or equal values carry no scale)."""
    mean, std = values.mean(), values.std()
    std = std if std > min_std else 1.0
    z = ((values - mean) / std).astype(np.float32)
    return z, jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32)
