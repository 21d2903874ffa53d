"""OFA's ImageNet accuracy predictor for the OFA-MobileNetV3 space, frozen, from shipped weights.

An MLP 128-400-400-400-1 with ReLUs on :meth:`OFAMobileNetV3.predictor_encoding`; it outputs
top-1 as a fraction, returned here in percent like every accuracy in l2o.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from l2o.data import get_space, load_ofa_predictor
from l2o.spaces import OFAMobileNetV3

LAYERS = ("0", "2", "4", "6")


def ofa_accuracy_params() -> dict[str, dict[str, jax.Array]]:
    """The predictor's weights as a params pytree ``{layer: {"w": [out, in], "b": [out]}}``."""
    raw = load_ofa_predictor()
    return {
        i: {"w": jnp.asarray(raw[f"{i}_weight"]), "b": jnp.asarray(raw[f"{i}_bias"])}
        for i in LAYERS
    }


def ofa_accuracy_from_encoding(params: dict, x: jax.Array) -> jax.Array:
    """Predicted ImageNet top-1 (%) from 128-dim encodings float32[..., 128] -> [...]."""
    for i in LAYERS[:-1]:
        x = jax.nn.relu(x @ params[i]["w"].T + params[i]["b"])
    return 100.0 * (x @ params[LAYERS[-1]]["w"].T + params[LAYERS[-1]]["b"])[..., 0]


def make_ofa_accuracy(space: OFAMobileNetV3 | None = None):
    """``(params, apply)`` with ``apply(params, archs int32[N, 46]) -> top-1 % float32[N]``."""
    space = space or get_space("ofa_mbv3")

    def apply(params: dict, archs: jax.Array) -> jax.Array:
        return ofa_accuracy_from_encoding(params, jax.vmap(space.predictor_encoding)(archs))

    return ofa_accuracy_params(), apply
