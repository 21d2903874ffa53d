"""NAS-Bench-301 / DARTS: two cells (normal, reduce) of 4 nodes, each node fed by 2 of the 7 ops.

Slots, per cell (``normal`` then ``reduce``) and edge e = 0..7 (node ``2 + e // 2``): the op
(:data:`OPS`) and the input node (``0 .. 1 + e // 2``): 32 slots. The network is DARTS's
NetworkCIFAR as the thesis's authors built it: C = 36, 20 cells, reduction cells at 1/3 and 2/3
of the depth (doubling C), a 3x3 stem to 3C, each cell preprocessing its two inputs with 1x1
convolutions (a factorised reduce after a reduction), concatenating nodes 2..5, and a classifier.
A separable conv is (depthwise k, pointwise) twice, the first depthwise carrying the stride; a
dilated conv is one depthwise (dilation 2) and a pointwise; a skip on a reduction edge is a
factorised reduce (two stride-2 1x1 convolutions to C/2, the second on the input shifted by one
pixel); pools have no weights. The default input is 16x16, as the authors simulated.

:meth:`NB301.maestro_layers` is the authors' MAESTRO layer list (pools left out, MAESTRO's
``(Type, K, C, R, S, Y, X, stride)``, optionally the training network's auxiliary head after
the second reduction); it reproduces ``maestro/model_examples`` layer for layer.
:meth:`NB301.layers` is the inference network (no auxiliary head, pools kept) with "same"
padding; its MAC count equals the authors' ``flops_16x16`` for every genotype.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from l2o.spaces.base import Layer, Space, conv

OPS = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELLS = ("normal", "reduce")
EDGES = 8


class MaestroLayer(NamedTuple):
    name: str
    type: str  # CONV, DSCONV (depthwise, K = 1) or POOL (ours: MAESTRO's lists have none)
    k: int
    c: int
    r: int
    y: int  # input side
    stride: int  # 0 for the classifier (MAESTRO gives a Linear no stride)


def _cardinalities() -> tuple[int, ...]:
    return tuple(c for _ in CELLS for e in range(EDGES) for c in (len(OPS), e // 2 + 2))


def _slot_names() -> tuple[str, ...]:
    return tuple(
        f"{cell}.edge{e}.{part}" for cell in CELLS for e in range(EDGES) for part in ("op", "input")
    )


@dataclasses.dataclass(frozen=True)
class NB301(Space):
    name: str = "nb301"
    cardinalities: tuple[int, ...] = _cardinalities()
    slot_names: tuple[str, ...] = _slot_names()
    channels: int = 36
    cells: int = 20
    input_size: int = 16
    num_classes: int = 10
    aux_size: int = 2  # the auxiliary head's input side in the authors' lists

    # --- genotypes ---------------------------------------------------------------------------
    def from_genotype(self, genotype: dict) -> np.ndarray:
        """``{"normal": [[op, input] x 8], "reduce": [...]}`` -> int32[32]."""
        out = []
        for cell in CELLS:
            edges = genotype[cell]
            if len(edges) != EDGES:
                raise ValueError(f"a DARTS {cell} cell has {EDGES} edges, got {len(edges)}")
            for op, node in edges:
                if op not in OPS:
                    raise ValueError(f"unknown DARTS op {op!r}; known: {', '.join(OPS)}")
                out += [OPS.index(op), int(node)]
        return self.validate(np.asarray(out))

    def decode(self, arch) -> dict:
        a = self.validate(arch)
        half = 2 * EDGES
        return {
            cell: [[OPS[a[i * half + 2 * e]], int(a[i * half + 2 * e + 1])] for e in range(EDGES)]
            for i, cell in enumerate(CELLS)
        }

    # --- the network -------------------------------------------------------------------------
    def _rows(self, arch, auxiliary: bool) -> list[MaestroLayer]:
        genotype = self.decode(arch)
        rows: list[MaestroLayer] = []

        def add(name, kind, k, c, r, y, stride=1):
            rows.append(MaestroLayer(name, kind, k, c, r, y, stride))

        def factorized_reduce(name, c_in, c_out, y):
            add(f"{name}.fr1", "CONV", c_out // 2, c_in, 1, y, 2)
            add(f"{name}.fr2", "CONV", c_out // 2, c_in, 1, y - 1, 2)

        c, size = self.channels, self.input_size
        add("stem", "CONV", 3 * c, 3, 3, size)
        c_pp, c_p, c_cur = 3 * c, 3 * c, c
        size_pp, size_p = size, size
        reduction_prev = False
        reductions = (self.cells // 3, 2 * self.cells // 3)
        for i in range(self.cells):
            reduction = i in reductions
            if reduction:
                c_cur *= 2
            name = f"cell{i}"
            if reduction_prev:
                factorized_reduce(f"{name}.pre0", c_pp, c_cur, size_pp)
            else:
                add(f"{name}.pre0", "CONV", c_cur, c_pp, 1, size_pp)
            add(f"{name}.pre1", "CONV", c_cur, c_p, 1, size_p)
            out_size = size_p // 2 if reduction else size_p
            for e, (op, node) in enumerate(genotype["reduce" if reduction else "normal"]):
                stride = 2 if reduction and node < 2 else 1
                y = size_p if node < 2 else out_size
                edge = f"{name}.edge{e}.{op}"
                if op.startswith("sep_conv"):
                    k = int(op[-1])
                    add(f"{edge}.dw1", "DSCONV", 1, c_cur, k, y, stride)
                    add(f"{edge}.pw1", "CONV", c_cur, c_cur, 1, y // stride)
                    add(f"{edge}.dw2", "DSCONV", 1, c_cur, k, y // stride)
                    add(f"{edge}.pw2", "CONV", c_cur, c_cur, 1, y // stride)
                elif op.startswith("dil_conv"):
                    k = int(op[-1])
                    add(f"{edge}.dw", "DSCONV", 1, c_cur, k, y, stride)
                    add(f"{edge}.pw", "CONV", c_cur, c_cur, 1, y // stride)
                elif op == "skip_connect" and stride == 2:
                    factorized_reduce(edge, c_cur, c_cur, y)
                elif "pool" in op:
                    add(edge, "POOL", c_cur, c_cur, 3, y, stride)
            c_pp, c_p = c_p, 4 * c_cur
            size_pp, size_p = size_p, out_size
            reduction_prev = reduction
            if auxiliary and i == 2 * self.cells // 3:
                add("aux.conv1", "CONV", 128, c_p, 1, self.aux_size)
                add("aux.conv2", "CONV", 768, 128, 2, self.aux_size)
                add("aux.classifier", "CONV", self.num_classes, 768, 1, 1, 0)
        add("classifier", "CONV", self.num_classes, c_p, 1, 1, 0)
        return rows

    def maestro_layers(self, arch, auxiliary: bool = False) -> list[MaestroLayer]:
        """The authors' MAESTRO layer list (no pools; ``auxiliary``: with the training
        network's auxiliary head, as their list of genotype 0 has it and 1-9 do not)."""
        return [r for r in self._rows(arch, auxiliary) if r.type != "POOL"]

    def layers(self, arch) -> list[Layer]:
        layers = []
        for r in self._rows(arch, auxiliary=False):
            # the factorised reduce's shifted conv reads a (y-1)^2 window of the same map
            y = r.y + 1 if r.name.endswith(".fr2") else r.y
            if r.type == "POOL":
                layers.append(Layer(r.name, "pool", r.c, r.c, y, r.r, r.stride))
            elif r.name == "classifier":
                layers.append(Layer(r.name, "fc", r.c, r.k, 1))
            elif r.type == "DSCONV":
                layers.append(conv(r.name, r.c, r.c, y, r.r, r.stride, g=r.c))
            else:
                layers.append(conv(r.name, r.c, r.k, y, r.r, r.stride))
        return layers
