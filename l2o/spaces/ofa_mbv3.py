"""Once-for-All MobileNetV3 (width 1.2): 5 stages x up to 4 blocks, kernel, expansion, depth, size.

Vector layout (46 slots): ``[kernel index x 20 | expand index x 20 | depth index x 5 | resolution
index]`` with kernels (3, 5, 7), expansions (3, 4, 6), stage depths (2, 3, 4) and the input
resolutions of the space (by default those present in HELP's data, 128...224 step 4). Block ``b``
is block ``b % 4`` of stage ``b // 4`` and is in use only when ``b % 4 < depth``; its kernel and
expansion slots are then masked out of :meth:`one_hot` and of OFA's predictor encoding.
"""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from l2o.spaces.base import Layer, Space, conv, layers_macs

KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
DEPTHS = (2, 3, 4)
DATA_RESOLUTIONS = tuple(range(128, 225, 4))
NUM_STAGES, MAX_DEPTH = 5, 4
NUM_BLOCKS = NUM_STAGES * MAX_DEPTH
WIDTHS = (32, 48, 96, 136, 192)  # make_divisible(base * 1.2, 8) of (24, 40, 80, 112, 160)
STRIDES = (2, 2, 2, 1, 2)
SE = (False, True, False, True, True)
HSWISH = (False, False, True, True, True)
FIRST_CONV, FIRST_BLOCK, FINAL_EXPAND, FEATURE_MIX, NUM_CLASSES = 24, 24, 1152, 1536, 1000


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round to a multiple of ``divisor``, never below 90 % of ``v`` (MobileNet convention)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _block_layers(prefix: str, stage: int, first: bool, k: int, e: int, size: int) -> list[Layer]:
    c_in = (FIRST_BLOCK, *WIDTHS)[stage] if first else WIDTHS[stage]
    c_out, stride = WIDTHS[stage], STRIDES[stage] if first else 1
    mid, out_size = make_divisible(round(c_in * e)), -(-size // stride)
    layers = [
        conv(f"{prefix}.expand", c_in, mid, size),
        conv(f"{prefix}.depthwise{k}x{k}", mid, mid, size, k, stride, mid),
    ]
    if SE[stage]:
        se_mid = make_divisible(mid // 4)
        layers += [
            Layer(f"{prefix}.se.avgpool", "pool", mid, mid, out_size, out_size, out_size),
            conv(f"{prefix}.se.reduce", mid, se_mid, 1),
            conv(f"{prefix}.se.expand", se_mid, mid, 1),
        ]
    return layers + [conv(f"{prefix}.project", mid, c_out, out_size)]


@dataclasses.dataclass(frozen=True)
class OFAMobileNetV3(Space):
    name: str = "ofa_mbv3"
    resolutions: tuple[int, ...] = DATA_RESOLUTIONS
    cardinalities: tuple[int, ...] = ()
    slot_names: tuple[str, ...] = ()

    def __post_init__(self):
        cards = (3,) * (2 * NUM_BLOCKS) + (3,) * NUM_STAGES + (len(self.resolutions),)
        names = (
            tuple(f"kernel{b}" for b in range(NUM_BLOCKS))
            + tuple(f"expand{b}" for b in range(NUM_BLOCKS))
            + tuple(f"depth{s}" for s in range(NUM_STAGES))
            + ("resolution",)
        )
        object.__setattr__(self, "cardinalities", cards)
        object.__setattr__(self, "slot_names", names)

    # --- config <-> vector --------------------------------------------------------------------
    def from_config(self, ks, e, d, r) -> np.ndarray:
        """Vectors from OFA configs: kernel sizes [..., 20], expands [..., 20], depths [..., 5],
        resolutions [...]; values outside the space raise ValueError."""
        parts = []
        for name, values, choices in (
            ("ks", ks, KERNELS),
            ("e", e, EXPANDS),
            ("d", d, DEPTHS),
            ("r", np.asarray(r)[..., None], self.resolutions),
        ):
            values = np.asarray(values)
            lookup = {v: i for i, v in enumerate(choices)}
            bad = ~np.isin(values, choices)
            if bad.any():
                raise ValueError(f"ofa_mbv3: {name} takes {choices}; got {values[bad][0]}")
            parts.append(np.vectorize(lookup.__getitem__, otypes=[np.int32])(values))
        return np.concatenate(parts, -1)

    def decode(self, arch) -> dict:
        a = self.validate(arch)
        depths = [DEPTHS[i] for i in a[2 * NUM_BLOCKS : -1]]
        active = [b % MAX_DEPTH < depths[b // MAX_DEPTH] for b in range(NUM_BLOCKS)]
        return {
            "ks": [KERNELS[i] if on else 0 for i, on in zip(a[:NUM_BLOCKS], active)],
            "e": [EXPANDS[i] if on else 0 for i, on in zip(a[NUM_BLOCKS : 2 * NUM_BLOCKS], active)],
            "d": depths,
            "r": self.resolutions[a[-1]],
        }

    # --- encodings ----------------------------------------------------------------------------
    def block_mask(self, arch) -> jnp.ndarray:
        """Which of the 20 blocks are in use: bool[..., 20]. Works on numpy and jnp inputs."""
        depth = jnp.asarray(DEPTHS)[arch[..., 2 * NUM_BLOCKS : 2 * NUM_BLOCKS + NUM_STAGES]]
        position = jnp.arange(NUM_BLOCKS) % MAX_DEPTH
        return position < jnp.repeat(depth, MAX_DEPTH, axis=-1)

    def slot_mask(self, arch) -> jnp.ndarray:
        blocks = self.block_mask(arch)
        return jnp.concatenate([blocks, blocks, jnp.ones(NUM_STAGES + 1, bool)], -1)

    def predictor_encoding(self, arch) -> jnp.ndarray:
        """The 128-dim input of OFA's accuracy predictor for one architecture int32[46].

        Kernel one-hots (20 x 3) and expand one-hots (20 x 3), zero beyond a stage's depth, then
        the resolution one-hot at ``(r - 112) // 16`` (8 bins). Per example; vmap for a batch.
        """
        blocks = self.block_mask(arch).astype(jnp.float32)[:, None]
        ks = jnp.eye(3)[arch[:NUM_BLOCKS]] * blocks
        ex = jnp.eye(3)[arch[NUM_BLOCKS : 2 * NUM_BLOCKS]] * blocks
        r_bin = (jnp.asarray(self.resolutions)[arch[-1]] - 112) // 16
        return jnp.concatenate([ks.ravel(), ex.ravel(), jnp.eye(8)[r_bin]])

    # --- the network --------------------------------------------------------------------------
    def _fixed_layers(self, r: int) -> tuple[list[Layer], list[Layer]]:
        size = -(-r // 2)
        stem = [
            conv("first_conv", 3, FIRST_CONV, r, 3, 2),
            conv("first_block.depthwise3x3", FIRST_CONV, FIRST_CONV, size, 3, 1, FIRST_CONV),
            conv("first_block.project", FIRST_CONV, FIRST_BLOCK, size),
        ]
        for s in STRIDES:
            size = -(-size // s)
        head = [
            conv("final_expand", WIDTHS[-1], FINAL_EXPAND, size),
            Layer("avgpool", "pool", FINAL_EXPAND, FINAL_EXPAND, size, size, size),
            conv("feature_mix", FINAL_EXPAND, FEATURE_MIX, 1),
            Layer("classifier", "fc", FEATURE_MIX, NUM_CLASSES, 1),
        ]
        return stem, head

    def _stage_sizes(self, r: int) -> list[int]:
        sizes, size = [], -(-r // 2)
        for s in STRIDES:
            sizes.append(size)
            size = -(-size // s)
        return sizes

    def _blocks(self, arch) -> list[tuple[int, int, int, int]]:
        """(stage, position, kernel, expand) of each block in use."""
        cfg = self.decode(arch)
        return [
            (*divmod(b, MAX_DEPTH), cfg["ks"][b], cfg["e"][b])
            for b in range(NUM_BLOCKS)
            if cfg["ks"][b]
        ]

    def layers(self, arch) -> list[Layer]:
        a = self.validate(arch)
        r = self.resolutions[a[-1]]
        stem, head = self._fixed_layers(r)
        sizes, body = self._stage_sizes(r), []
        for stage, pos, k, e in self._blocks(a):
            size = sizes[stage] if pos == 0 else -(-sizes[stage] // STRIDES[stage])
            body += _block_layers(f"stage{stage}.block{pos}", stage, pos == 0, k, e, size)
        return stem + body + head

    def block_signatures(self, arch) -> list[str]:
        """OFA's lookup-table keys of every layer of one architecture, in execution order."""
        a = self.validate(arch)
        r = self.resolutions[a[-1]]
        sizes, size = self._stage_sizes(r), -(-r // 2)
        keys = [
            f"Conv-input:{r}x{r}x3-output:{size}x{size}x{FIRST_CONV}",
            f"expanded_conv-input:{size}x{size}x{FIRST_CONV}-output:{size}x{size}x"
            f"{FIRST_BLOCK}-expand:{FIRST_CONV}-kernel:3-stride:1-idskip:1-se:0-hs:0",
        ]
        for stage, pos, k, e in self._blocks(a):
            c_in = (FIRST_BLOCK, *WIDTHS)[stage] if pos == 0 else WIDTHS[stage]
            stride = STRIDES[stage] if pos == 0 else 1
            h = sizes[stage] if pos == 0 else -(-sizes[stage] // STRIDES[stage])
            out, skip = -(-h // stride), int(stride == 1 and c_in == WIDTHS[stage])
            keys.append(
                f"expanded_conv-input:{h}x{h}x{c_in}-output:{out}x{out}x{WIDTHS[stage]}"
                f"-expand:{make_divisible(round(c_in * e))}-kernel:{k}-stride:{stride}"
                f"-idskip:{skip}-se:{int(SE[stage])}-hs:{int(HSWISH[stage])}"
            )
        last = -(-sizes[-1] // STRIDES[-1])
        keys += [
            f"Conv_1-input:{last}x{last}x{WIDTHS[-1]}-output:{last}x{last}x{FINAL_EXPAND}",
            f"AvgPool2D-input:{last}x{last}x{FINAL_EXPAND}-output:1x1x{FINAL_EXPAND}",
            f"Conv_2-input:1x1x{FINAL_EXPAND}-output:1x1x{FEATURE_MIX}",
            f"Logits-input:1x1x{FEATURE_MIX}-output:{NUM_CLASSES}",
        ]
        return keys

    @functools.lru_cache(maxsize=64)  # noqa: B019 - the space is frozen and long-lived
    def _macs_tables(self, r: int) -> tuple[float, np.ndarray]:
        """Fixed MACs and per-block MACs [20, 3 kernels, 3 expands] at resolution ``r``."""
        stem, head = self._fixed_layers(r)
        sizes, table = self._stage_sizes(r), np.zeros((NUM_BLOCKS, 3, 3))
        for b in range(NUM_BLOCKS):
            stage, pos = divmod(b, MAX_DEPTH)
            size = sizes[stage] if pos == 0 else -(-sizes[stage] // STRIDES[stage])
            for i, k in enumerate(KERNELS):
                for j, e in enumerate(EXPANDS):
                    table[b, i, j] = layers_macs(_block_layers("", stage, pos == 0, k, e, size))
        return float(layers_macs(stem + head)), table

    def macs(self, archs) -> np.ndarray:
        a = self.validate(archs).reshape(-1, self.num_slots)
        blocks = np.asarray(self.block_mask(a))
        out = np.zeros(len(a))
        for ri in np.unique(a[:, -1]):
            rows = a[:, -1] == ri
            fixed, table = self._macs_tables(self.resolutions[ri])
            per_block = table[
                np.arange(NUM_BLOCKS), a[rows, :NUM_BLOCKS], a[rows, NUM_BLOCKS : 2 * NUM_BLOCKS]
            ]
            out[rows] = fixed + (per_block * blocks[rows]).sum(-1)
        return out
