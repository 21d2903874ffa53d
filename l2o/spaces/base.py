"""The one representation: an architecture is ``int32[L]``, one choice index per slot.

A :class:`Space` knows each slot's number of choices, how to sample, one-hot encode (masking
slots a choice elsewhere switches off), decode to a readable config and list the network's layers.
Everything downstream (predictors, search, the optimizer network, the bandit) speaks this vector.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Layer(NamedTuple):
    """One layer of a network, as MAC counts and the accelerator simulator need it.

    ``kind`` is "conv" (``groups`` = in_channels for depthwise), "pool" or "fc"; sizes are the
    square input feature map's side in pixels; padding is "same", so the output side is
    ``ceil(in_size / stride)``.
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    in_size: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1

    @property
    def out_size(self) -> int:
        return -(-self.in_size // self.stride)

    @property
    def macs(self) -> int:
        """Multiply-accumulates (pooling counts none)."""
        if self.kind == "pool":
            return 0
        per_output = (self.in_channels // self.groups) * self.kernel**2
        return self.out_size**2 * self.out_channels * per_output


def conv(name: str, c_in: int, c_out: int, size: int, k: int = 1, s: int = 1, g: int = 1) -> Layer:
    return Layer(name, "conv", c_in, c_out, size, k, s, g)


def layers_macs(layers: list[Layer]) -> int:
    return sum(layer.macs for layer in layers)


@dataclasses.dataclass(frozen=True)
class Space:
    """A design space of fixed-length integer architectures.

    Subclasses set ``name``, ``cardinalities`` and ``slot_names`` and implement ``decode`` and
    ``layers``; they override ``slot_mask`` when a choice switches other slots off and ``macs``
    with a vectorised count.
    """

    name: str
    cardinalities: tuple[int, ...]
    slot_names: tuple[str, ...]

    @property
    def num_slots(self) -> int:
        return len(self.cardinalities)

    @property
    def encoding_size(self) -> int:
        """Length of :meth:`one_hot`: the sum of the slots' cardinalities."""
        return int(sum(self.cardinalities))

    @property
    def size(self) -> int:
        """Number of distinct vectors (masked slots counted as distinct)."""
        return int(np.prod(np.array(self.cardinalities, dtype=object)))

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` architectures drawn uniformly per slot: int32[n, L]. The key is consumed."""
        cards = jnp.asarray(self.cardinalities, jnp.int32)
        return jax.random.randint(key, (n, self.num_slots), 0, cards, dtype=jnp.int32)

    def slot_mask(self, arch: jax.Array) -> jax.Array:
        """Which slots are in use for ``arch`` (int32[L]): bool[L]. All of them by default."""
        return jnp.ones(arch.shape[-1:], bool)

    def one_hot(self, arch: jax.Array) -> jax.Array:
        """Concatenated per-slot one-hots of one architecture int32[L] -> float32[E].

        Unused slots (``slot_mask``) are all zeros. Per example; vmap it for a batch.
        """
        offsets = np.concatenate([[0], np.cumsum(self.cardinalities)[:-1]]).astype(np.int32)
        mask = self.slot_mask(arch).astype(jnp.float32)
        return jnp.zeros(self.encoding_size, jnp.float32).at[arch + offsets].set(mask)

    def one_hot_batch(self, archs: Any) -> jax.Array:
        """:meth:`one_hot` of a batch: int[N, L] -> float32[N, E]."""
        return jax.vmap(self.one_hot)(jnp.asarray(archs, jnp.int32))

    def validate(self, archs: Any) -> np.ndarray:
        """Check a batch (or one) of architectures and return it as numpy int32[..., L]."""
        a = np.asarray(archs)
        if a.ndim == 0 or a.shape[-1] != self.num_slots:
            raise ValueError(
                f"{self.name}: an architecture has {self.num_slots} slots "
                f"({', '.join(self.slot_names[:4])}, ...); got shape {a.shape}"
            )
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{self.name}: architectures are integer vectors, got {a.dtype}")
        bad = (a < 0) | (a >= np.asarray(self.cardinalities))
        if bad.any():
            slot = int(np.argwhere(bad)[0][-1])
            raise ValueError(
                f"{self.name}: slot {slot} ({self.slot_names[slot]}) takes 0..."
                f"{self.cardinalities[slot] - 1}; got {a[..., slot].max()}"
            )
        return a.astype(np.int32)

    def decode(self, arch: Any) -> dict:
        """A readable config of one architecture."""
        raise NotImplementedError

    def layers(self, arch: Any) -> list[Layer]:
        """Every layer of the whole network for one architecture, in execution order."""
        raise NotImplementedError

    def macs(self, archs: Any) -> np.ndarray:
        """Multiply-accumulates of each architecture in a batch int[N, L] -> float64[N]."""
        archs = self.validate(archs).reshape(-1, self.num_slots)
        return np.array([layers_macs(self.layers(a)) for a in archs], np.float64)
