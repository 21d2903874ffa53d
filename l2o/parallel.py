"""Data parallelism over every local accelerator with ``jax.sharding``.

A 1-D mesh named ``data`` spans ``jax.devices()``; training batches are constrained to be split
along it (their leading axis) and the parameters and optimizer state are replicated, so XLA's
SPMD partitioner runs each device on its share of the batch and all-reduces the gradients. On
one device every call here is the identity. Multi-GPU: nothing to do, all local GPUs join the
mesh. Multi-host: call ``jax.distributed.initialize()`` in every process before the first
computation; ``jax.devices()`` then lists every host's devices and the same code runs
unchanged. On CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` splits the host into
4 devices (how the tests check that 4 devices give the 1-device result).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"


@functools.cache
def data_mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def n_devices() -> int:
    return data_mesh().size


def shard_batch(x: jax.Array) -> jax.Array:
    """Inside jit: split ``x`` along its leading (batch) axis over the mesh (kept whole when the
    batch does not divide evenly, or on one device)."""
    n = n_devices()
    if n == 1 or x.shape[0] % n:
        return x
    spec = PartitionSpec(AXIS, *([None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, NamedSharding(data_mesh(), spec))


def replicate(tree):
    """Put every leaf of ``tree`` on every device of the mesh (no-op on one device)."""
    if n_devices() == 1:
        return tree
    return jax.device_put(tree, NamedSharding(data_mesh(), PartitionSpec()))
