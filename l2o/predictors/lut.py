"""Lookup-table latency for OFA-MobileNetV3 (OFA's Note10 tables), vectorised in jnp.

OFA's ``LatencyEstimator`` builds a string key per layer and sums the table entries in Python.
Every layer's key depends only on the resolution and on its own block's kernel and expansion,
so the same sum is ``fixed[r] + Σ_b active_b · blocks[r, b, kernel_b, expand_b]``: two gathers
and a sum, jit- and vmap-friendly, equal to the per-key sum (tests/test_lut.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from l2o.data import load_note10_lut
from l2o.spaces.ofa_mbv3 import NUM_BLOCKS, NUM_STAGES, OFAMobileNetV3

NOTE10_RESOLUTIONS = (160, 176, 192, 208, 224)


def lut_tables(space: OFAMobileNetV3, lut: dict[int, dict[str, float]]) -> dict[str, jax.Array]:
    """``{"fixed": [R], "blocks": [R, 20, 3, 3]}`` (ms) for the space's resolutions.

    A resolution or layer missing from ``lut`` raises ValueError naming it."""
    missing = sorted(set(space.resolutions) - set(lut))
    if missing:
        raise ValueError(
            f"the lookup table has no resolution {missing}; it covers {sorted(lut)}: use "
            f"OFAMobileNetV3(resolutions={tuple(sorted(lut))})"
        )
    fixed = np.zeros(len(space.resolutions))
    blocks = np.zeros((len(space.resolutions), NUM_BLOCKS, 3, 3))
    for ri, r in enumerate(space.resolutions):
        for i in range(3):
            for j in range(3):  # every block in use with kernel i and expansion j
                arch = np.concatenate(
                    [np.full(NUM_BLOCKS, i), np.full(NUM_BLOCKS, j), np.full(NUM_STAGES, 2), [ri]]
                )
                keys = space.block_signatures(arch)
                try:
                    values = np.array([lut[r][k] for k in keys])
                except KeyError as e:
                    raise ValueError(f"the lookup table at resolution {r} has no layer {e}") from e
                blocks[ri, :, i, j] = values[2 : 2 + NUM_BLOCKS]
                fixed[ri] = values[:2].sum() + values[2 + NUM_BLOCKS :].sum()
    return {"fixed": jnp.asarray(fixed, jnp.float32), "blocks": jnp.asarray(blocks, jnp.float32)}


def make_lut_latency(space: OFAMobileNetV3 | None = None, lut: dict | None = None):
    """``(params, apply)``: ``apply(params, archs int32[..., 46]) -> latency ms float32[...]``.

    Defaults: the Note10 tables and the space at their resolutions (160...224 step 16)."""
    space = space or OFAMobileNetV3(resolutions=NOTE10_RESOLUTIONS)
    params = lut_tables(space, load_note10_lut() if lut is None else lut)

    def apply(params: dict, archs: jax.Array) -> jax.Array:
        archs = jnp.asarray(archs)
        r = archs[..., -1]
        ks, ex = archs[..., :NUM_BLOCKS], archs[..., NUM_BLOCKS : 2 * NUM_BLOCKS]
        per_block = params["blocks"][r[..., None], jnp.arange(NUM_BLOCKS), ks, ex]
        return params["fixed"][r] + jnp.sum(per_block * space.block_mask(archs), axis=-1)

    return params, apply
