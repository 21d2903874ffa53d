"""NAS-Bench-201: a cell of 4 nodes and 6 edges, 5 operations per edge, 15625 architectures.

Slot ``e`` is edge ``EDGES[e]`` (to node, from node) in the order of the NB201 arch string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``. The macro network is NB201's CIFAR ResNet-like skeleton:
stem conv (16 channels), three stages of 5 cells (C = 16, 32, 64) separated by residual reduction
blocks, global pooling and a classifier.

The benchmark's index order of the 15625 architectures is data, not structure: it is passed in
as ``order`` (``l2o.data.get_space("nb201")`` loads it from the shipped table), and only
:meth:`NB201.enumerate`, :meth:`NB201.to_index`, :meth:`NB201.from_index` and
:meth:`NB201.decode` need it.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import numpy as np

from l2o.spaces.base import Layer, Space, conv, layers_macs

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_ARCHS = len(OPS) ** len(EDGES)
_TOKEN = re.compile(r"([a-z_0-9]+)~(\d)")


def _op_layers(prefix: str, op: int, c: int, size: int) -> list[Layer]:
    if OPS[op] == "nor_conv_1x1":
        return [conv(f"{prefix}.conv1x1", c, c, size, 1)]
    if OPS[op] == "nor_conv_3x3":
        return [conv(f"{prefix}.conv3x3", c, c, size, 3)]
    if OPS[op] == "avg_pool_3x3":
        return [Layer(f"{prefix}.avgpool3x3", "pool", c, c, size, 3, 1)]
    return []  # none, skip_connect: no computation


@dataclasses.dataclass(frozen=True)
class NB201(Space):
    name: str = "nb201"
    cardinalities: tuple[int, ...] = (len(OPS),) * len(EDGES)
    slot_names: tuple[str, ...] = tuple(f"edge{j}<-{i}" for j, i in EDGES)
    input_size: int = 32
    num_classes: int = 10
    channels: tuple[int, ...] = (16, 32, 64)
    cells_per_stage: int = 5
    # int[15625, 6]: row i is the architecture of NB201 index i (the benchmark's arch strings in
    # its order); None for a space without the table, which then has no index
    order: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)

    # --- NB201 index <-> vector <-> string ---------------------------------------------------
    def _order(self) -> np.ndarray:
        if self.order is None:
            raise ValueError(
                "this NB201 space has no index order; use l2o.data.get_space('nb201'), or pass "
                "order= (int[15625, 6], the architecture of each NB201 index)"
            )
        return self.order

    @functools.cached_property
    def _index_of_code(self) -> np.ndarray:
        ops = self._order().astype(np.int64)
        index = np.full(NUM_ARCHS, -1, np.int64)
        index[ops @ (len(OPS) ** np.arange(len(EDGES)))] = np.arange(NUM_ARCHS)
        if (index < 0).any():
            raise ValueError("NB201 order is not a permutation of the 15625 archs")
        return index

    def enumerate(self) -> np.ndarray:
        """All 15625 architectures in NB201 index order: int32[15625, 6]."""
        return self._order().astype(np.int32)

    def to_index(self, archs) -> np.ndarray:
        """NB201 index of each architecture: int[..., 6] -> int64[...]."""
        a = self.validate(archs).astype(np.int64)
        return self._index_of_code[a @ (len(OPS) ** np.arange(len(EDGES)))]

    def from_index(self, index) -> np.ndarray:
        idx = np.asarray(index)
        if ((idx < 0) | (idx >= NUM_ARCHS)).any():
            raise ValueError(f"NB201 indices run 0...{NUM_ARCHS - 1}; got {idx.min()}..{idx.max()}")
        return self.enumerate()[idx]

    def to_string(self, arch) -> str:
        """The NB201 arch string, e.g. ``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|``."""
        a = self.validate(arch)
        nodes = [
            [f"{OPS[a[e]]}~{i}" for e, (j, i) in enumerate(EDGES) if j == n] for n in (1, 2, 3)
        ]
        return "+".join("|" + "|".join(node) + "|" for node in nodes)

    def from_string(self, s: str) -> np.ndarray:
        tokens = _TOKEN.findall(s)
        if len(tokens) != len(EDGES) or any(op not in OPS for op, _ in tokens):
            raise ValueError(
                f"not an NB201 arch string: {s!r}; expected 6 'op~i' tokens with ops from {OPS}"
            )
        froms = [int(i) for _, i in tokens]
        if froms != [i for _, i in EDGES]:
            raise ValueError(f"NB201 arch string {s!r} has its edges out of order")
        return np.array([OPS.index(op) for op, _ in tokens], np.int32)

    # --- the network --------------------------------------------------------------------------
    def decode(self, arch) -> dict:
        a = self.validate(arch)
        return {
            "arch_str": self.to_string(a),
            "index": int(self.to_index(a)),
            **{name: OPS[o] for name, o in zip(self.slot_names, a)},
        }

    def _stages(self):
        size = self.input_size
        for s, c in enumerate(self.channels):
            yield s, c, size
            size //= 2

    def _fixed_layers(self) -> tuple[list[Layer], list[list[Layer]], list[Layer]]:
        """Stem, the reduction block after each stage but the last, and the head."""
        c0 = self.channels[0]
        stem = [conv("stem.conv3x3", 3, c0, self.input_size, 3)]
        reductions = []
        for s, c, size in list(self._stages())[:-1]:
            c2, p = self.channels[s + 1], f"reduce{s}"
            reductions.append(
                [
                    conv(f"{p}.conv_a", c, c2, size, 3, 2),
                    conv(f"{p}.conv_b", c2, c2, size // 2, 3),
                    Layer(f"{p}.shortcut.avgpool", "pool", c, c, size, 2, 2),
                    conv(f"{p}.shortcut.conv1x1", c, c2, size // 2, 1),
                ]
            )
        last_c, last_size = self.channels[-1], self.input_size // 2 ** (len(self.channels) - 1)
        head = [
            Layer("head.avgpool", "pool", last_c, last_c, last_size, last_size, last_size),
            Layer("head.fc", "fc", last_c, self.num_classes, 1),
        ]
        return stem, reductions, head

    def layers(self, arch) -> list[Layer]:
        a = self.validate(arch)
        stem, reductions, head = self._fixed_layers()
        out = list(stem)
        for s, c, size in self._stages():
            for cell in range(self.cells_per_stage):
                for e, (j, i) in enumerate(EDGES):
                    out += _op_layers(f"stage{s}.cell{cell}.edge{j}<-{i}", a[e], c, size)
            if s < len(reductions):
                out += reductions[s]
        return out + head

    def macs(self, archs) -> np.ndarray:
        a = self.validate(archs).reshape(-1, self.num_slots)
        stem, reductions, head = self._fixed_layers()
        fixed = layers_macs(stem + head + sum(reductions, []))
        per_edge = np.array(
            [
                sum(
                    self.cells_per_stage * layers_macs(_op_layers("", op, c, size))
                    for _, c, size in self._stages()
                )
                for op in range(len(OPS))
            ],
            np.float64,
        )
        return fixed + per_edge[a].sum(-1)
