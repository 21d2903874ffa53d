"""A toy landscape for the optimizer network's tests: accuracy and latency linear in the
one-hot (φ(x) = x), so the λ-mode optimum has a closed form."""

import jax.numpy as jnp
import numpy as np

from l2o.data import get_space
from l2o.optimizer.landscape import Landscape

SPACE = get_space("nb201")


def linear(a, x):
    return x @ a


def identity(params, x):
    del params
    return x


def toy_landscape(seed: int = 0):
    """(landscape, accuracy weights a [E], latency heads [3, E])."""
    rng = np.random.default_rng(seed)
    e = SPACE.encoding_size
    a = jnp.asarray(rng.uniform(0, 15, e), jnp.float32)
    heads = jnp.asarray(rng.uniform(0.02, 0.4, (3, e)), jnp.float32)
    archs = jnp.asarray(SPACE.enumerate())
    x = SPACE.one_hot_batch(archs)
    land = Landscape(
        space=SPACE,
        accuracy_fn=linear,
        features_fn=identity,
        accuracy_params=a,
        features_params=None,
        archs=archs,
        phi=x,
        acc=x @ a,
        train_heads=heads,
        prior_mean=heads.mean(0),
        prior_factor=0.05 * jnp.eye(e),
    )
    return land, np.asarray(a), np.asarray(heads)
