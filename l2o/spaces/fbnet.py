"""FBNet (HW-NAS-Bench's CIFAR-100 version): 22 searchable layers x 9 blocks incl. skip.

Blocks are inverted residuals ``k{kernel}_e{expansion}[_g{groups}]``: 1x1 (grouped) expansion,
depthwise k x k, 1x1 (grouped) projection. ``skip`` is an identity, or a strided 1x1 conv where the
shape changes. Macro network for 32x32 inputs: stem conv (16), stages of [1, 4, 4, 4, 4, 4, 1]
layers with [16, 24, 32, 64, 112, 184, 352] channels and strides [1, 1, 2, 2, 1, 2, 1],
a 1x1 header conv (1504), global pooling and a classifier.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from l2o.spaces.base import Layer, Space, conv, layers_macs

OPS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
NUM_LAYERS = (1, 4, 4, 4, 4, 4, 1)
CHANNELS = (16, 24, 32, 64, 112, 184, 352)
STRIDES = (1, 1, 2, 2, 1, 2, 1)


def _op_params(op: int) -> tuple[int, int, int]:
    """(kernel, expansion, groups) of a block; kernel 0 for skip."""
    name = OPS[op]
    if name == "skip":
        return 0, 0, 1
    parts = name.split("_")
    return int(parts[0][1:]), int(parts[1][1:]), int(parts[2][1:]) if len(parts) > 2 else 1


def _block_layers(prefix: str, op: int, c_in: int, c_out: int, size: int, stride: int):
    k, e, g = _op_params(op)
    if k == 0:
        if stride == 1 and c_in == c_out:
            return []
        return [conv(f"{prefix}.skip.conv1x1", c_in, c_out, size, 1, stride)]
    mid = c_in * e
    return [
        conv(f"{prefix}.{OPS[op]}.expand", c_in, mid, size, 1, 1, g),
        conv(f"{prefix}.{OPS[op]}.depthwise", mid, mid, size, k, stride, mid),
        conv(f"{prefix}.{OPS[op]}.project", mid, c_out, -(-size // stride), 1, 1, g),
    ]


@dataclasses.dataclass(frozen=True)
class FBNet(Space):
    name: str = "fbnet"
    cardinalities: tuple[int, ...] = (len(OPS),) * sum(NUM_LAYERS)
    slot_names: tuple[str, ...] = tuple(f"layer{i}" for i in range(sum(NUM_LAYERS)))
    input_size: int = 32
    num_classes: int = 100
    stem_channels: int = 16
    header_channels: int = 1504

    def slot_shapes(self) -> list[tuple[int, int, int, int]]:
        """(in channels, out channels, input size, stride) of each searchable layer."""
        shapes, c_in, size = [], self.stem_channels, self.input_size
        for n, c, s in zip(NUM_LAYERS, CHANNELS, STRIDES):
            for i in range(n):
                stride = s if i == 0 else 1
                shapes.append((c_in, c, size, stride))
                c_in, size = c, -(-size // stride)
        return shapes

    def decode(self, arch) -> dict:
        a = self.validate(arch)
        return {
            "arch_str": ",".join(OPS[o] for o in a),
            **{name: OPS[o] for name, o in zip(self.slot_names, a)},
        }

    def _fixed_layers(self) -> tuple[list[Layer], list[Layer]]:
        c_in, c_out, size, stride = self.slot_shapes()[-1]
        last = -(-size // stride)
        stem = [conv("stem.conv3x3", 3, self.stem_channels, self.input_size, 3)]
        head = [
            conv("header.conv1x1", c_out, self.header_channels, last),
            Layer(
                "head.avgpool", "pool", self.header_channels, self.header_channels, last, last, last
            ),
            Layer("head.fc", "fc", self.header_channels, self.num_classes, 1),
        ]
        return stem, head

    def layers(self, arch) -> list[Layer]:
        a = self.validate(arch)
        stem, head = self._fixed_layers()
        body = [
            layer
            for i, (op, shape) in enumerate(zip(a, self.slot_shapes()))
            for layer in _block_layers(f"layer{i}", op, *shape)
        ]
        return stem + body + head

    def macs(self, archs) -> np.ndarray:
        a = self.validate(archs).reshape(-1, self.num_slots)
        stem, head = self._fixed_layers()
        table = np.array(
            [
                [layers_macs(_block_layers("", op, *shape)) for op in range(len(OPS))]
                for shape in self.slot_shapes()
            ],
            np.float64,
        )
        return layers_macs(stem + head) + table[np.arange(self.num_slots), a].sum(-1)
