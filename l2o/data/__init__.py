"""Loaders for the measurement tables shipped in this folder (see PROVENANCE.md).

The files are built by ``scripts/build_data.py`` from the public sources; nothing here reads
anything outside the package. Every loader validates what it reads and names the file and the
field when something is missing or malformed. The design spaces (:mod:`l2o.spaces`) do no I/O:
:func:`get_space` builds one with the data it needs, and :data:`ARCH_FIELDS` says how each
space's latency table stores its architectures.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from l2o.spaces import SPACES, Space
from l2o.spaces.fbnet import NUM_LAYERS
from l2o.spaces.nb201 import EDGES, NB201, NUM_ARCHS
from l2o.spaces.ofa_mbv3 import NUM_BLOCKS, NUM_STAGES, OFAMobileNetV3

DATA_DIR = Path(__file__).resolve().parent
NB201_DATASETS = ("cifar10", "cifar100", "imagenet16_120")
_REBUILD = "rebuild it with `python scripts/build_data.py --shared ../shared/data`"


@dataclasses.dataclass(frozen=True)
class LatencyTable:
    """Measured latencies of one space's architectures on many device settings.

    Values are kept as measured: integer-millisecond phone latencies and ties stay as they are.
    """

    space: str
    devices: tuple[str, ...]
    archs: np.ndarray  # int32[N, L] architectures as the space's vectors
    latency_ms: np.ndarray  # float64[D, N], row d = devices[d]
    fingerprint_index: np.ndarray  # int32[10] HELP's reference architectures (rows of archs)

    def __getitem__(self, device: str) -> np.ndarray:
        """Latency (ms) of every architecture on ``device``: float64[N]."""
        return self.latency_ms[self.device_index(device)]

    def device_index(self, device: str) -> int:
        if device not in self.devices:
            raise KeyError(
                f"no {self.space} latencies for device {device!r}; "
                f"measured devices: {', '.join(self.devices)}"
            )
        return self.devices.index(device)


def read_npz(name: str, fields: dict[str, tuple]) -> dict[str, np.ndarray]:
    """Read ``fields`` ({field: shape with -1 for any}) of ``<name>.npz``, validated."""
    path = DATA_DIR / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"shipped data file {path} is missing; {_REBUILD}")
    with np.load(path, allow_pickle=False) as npz:
        out = {}
        for field, shape in fields.items():
            if field not in npz.files:
                raise ValueError(f"{path}: field {field!r} missing (has {sorted(npz.files)})")
            a = npz[field]
            if a.ndim != len(shape) or any(s not in (-1, t) for s, t in zip(shape, a.shape)):
                raise ValueError(f"{path}: field {field!r} has shape {a.shape}, expected {shape}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                n_bad = int((~np.isfinite(a)).sum())
                raise ValueError(f"{path}: field {field!r} has {n_bad} non-finite values")
            a.setflags(write=False)
            out[field] = a
    return out


# The fields of ``<space>.npz`` that hold the space's architectures, beside its latencies.
ARCH_FIELDS: dict[str, dict[str, tuple]] = {
    "nb201": {"ops": (NUM_ARCHS, len(EDGES))},  # in NB201 index order
    "fbnet": {"ops": (5000, sum(NUM_LAYERS))},
    "ofa_mbv3": {  # OFA configs
        "kernel": (-1, NUM_BLOCKS),
        "expand": (-1, NUM_BLOCKS),
        "depth": (-1, NUM_STAGES),
        "resolution": (-1,),
    },
}


@functools.cache
def get_space(name: str) -> Space:
    """The space called ``name`` (:data:`l2o.spaces.SPACES`) with its default settings and the
    data it needs: NB201's index order, from ``nb201.npz``."""
    if name not in SPACES:
        raise ValueError(f"unknown space {name!r}; known spaces: {', '.join(SPACES)}")
    if name == "nb201":
        return NB201(order=read_npz("nb201", ARCH_FIELDS["nb201"])["ops"])
    return SPACES[name]()


def _archs(space: Space, raw: dict[str, np.ndarray]) -> np.ndarray:
    """The space's vectors of the architectures stored in ``raw`` (:data:`ARCH_FIELDS`)."""
    if isinstance(space, OFAMobileNetV3):
        return space.from_config(raw["kernel"], raw["expand"], raw["depth"], raw["resolution"])
    return space.validate(raw["ops"])


@functools.cache
def load_latency(space: str) -> LatencyTable:
    """The latency table of ``space`` ("nb201", "fbnet" or "ofa_mbv3")."""
    s = get_space(space)
    if space not in ARCH_FIELDS:
        raise ValueError(f"no latency table for space {space!r}; tables: {', '.join(ARCH_FIELDS)}")
    raw = read_npz(
        space,
        {
            **ARCH_FIELDS[space],
            "devices": (-1,),
            "latency_ms": (-1, -1),
            "fingerprint_index": (10,),
        },
    )
    archs = _archs(s, raw)
    devices = tuple(str(d) for d in raw["devices"])
    if raw["latency_ms"].shape != (len(devices), len(archs)):
        raise ValueError(
            f"{DATA_DIR / space}.npz: field 'latency_ms' has shape "
            f"{raw['latency_ms'].shape}, expected ({len(devices)}, {len(archs)})"
        )
    archs.setflags(write=False)
    return LatencyTable(space, devices, archs, raw["latency_ms"], raw["fingerprint_index"])


@functools.cache
def load_nb201_accuracy(dataset: str = "cifar100") -> np.ndarray:
    """NAS-Bench-201 test accuracy (%, 200 epochs, mean over seeds) in NB201 index order."""
    if dataset not in NB201_DATASETS:
        raise ValueError(f"unknown NB201 dataset {dataset!r}; choose from {NB201_DATASETS}")
    return read_npz("nb201", {f"accuracy_{dataset}": (15625,)})[f"accuracy_{dataset}"]


@functools.cache
def load_ofa_predictor() -> dict[str, np.ndarray]:
    """Weights of OFA's ImageNet accuracy predictor (MLP 128-400-400-400-1, ``y = x @ W.T + b``)."""
    shapes = {"0": (400, 128), "2": (400, 400), "4": (400, 400), "6": (1, 400)}
    fields = {}
    for i, shape in shapes.items():
        fields[f"{i}_weight"] = shape
        fields[f"{i}_bias"] = shape[:1]
    return read_npz("ofa_acc_predictor", fields)


@functools.cache
def load_note10_lut() -> dict[int, dict[str, float]]:
    """OFA's Samsung Note10 per-layer latency tables: {resolution: {layer key: mean ms}}."""
    path = DATA_DIR / "ofa_note10_lut.json"
    if not path.exists():
        raise FileNotFoundError(f"shipped data file {path} is missing; {_REBUILD}")
    try:
        raw = json.loads(path.read_text())
        return {int(r): {str(k): float(v) for k, v in t.items()} for r, t in raw.items()}
    except (ValueError, AttributeError) as e:
        raise ValueError(f"{path}: malformed lookup table ({e}); {_REBUILD}") from e


MAESTRO_RUNS = (
    "mobilenetv2_kcp_pe256",
    "resnet50_kcp_pe256",
    "resnet50_kcp_pe1024",
    "resnet50_yrp_pe256",
)
# MAESTRO's per-layer access counts as its CSV names them: MaestroRun.accesses' columns.
MAESTRO_ACCESSES = tuple(
    f"{operand} {level} {op}"
    for operand in ("input", "filter", "output")
    for level in ("l1", "l2")
    for op in ("read", "write")
)


@dataclasses.dataclass(frozen=True)
class MaestroRun:
    """MAESTRO's real per-layer output for one network on one accelerator."""

    key: str  # "<network>_<dataflow>_pe<PEs>"
    layers: tuple[str, ...]
    dims: np.ndarray  # int32[n, 8]: K, C, R, S, Yo, Xo, stride, depthwise (K = C when depthwise)
    runtime: np.ndarray  # float64[n] cycles
    energy: np.ndarray  # float64[n] nJ (activity-count based)
    area: np.ndarray  # float64[n] MAESTRO's area estimate of the accelerator sized for the layer
    l1_bytes: np.ndarray  # float64[n] L1 size the layer needs
    l2_bytes: np.ndarray  # float64[n] L2 size the layer needs
    # int64[n, 12] MAESTRO's own L1 / L2 read and write counts of the layer, columns
    # MAESTRO_ACCESSES ("input l1 read", "input l1 write", "input l2 read", ..., "output l2
    # write"); "output l2 read" are the partial-sum reads
    accesses: np.ndarray

    def access(self, operand: str, level: str, op: str | None = None) -> np.ndarray:
        """Counts per layer of one column (``access("input", "l1", "read")``), or reads plus
        writes when ``op`` is None: int64[n]."""
        ops = ("read", "write") if op is None else (op,)
        names = [f"{operand} {level} {o}" for o in ops]
        for name in names:
            if name not in MAESTRO_ACCESSES:
                raise KeyError(f"no MAESTRO access column {name!r}; known: {MAESTRO_ACCESSES}")
        return sum(self.accesses[:, MAESTRO_ACCESSES.index(n)] for n in names)

    @property
    def network(self) -> str:
        return self.key.split("_")[0]

    @property
    def dataflow(self) -> str:
        return self.key.split("_")[1]

    @property
    def num_pes(self) -> int:
        return int(self.key.split("_pe")[1])


@functools.cache
def load_maestro_run(key: str) -> MaestroRun:
    """One of MAESTRO's layer-wise example runs (:data:`MAESTRO_RUNS`)."""
    if key not in MAESTRO_RUNS:
        raise ValueError(f"unknown MAESTRO run {key!r}; known: {', '.join(MAESTRO_RUNS)}")
    fields = ("names", "dims", "runtime", "energy", "area", "l1_bytes", "l2_bytes", "accesses")
    shapes = {"dims": (-1, 8), "accesses": (-1, len(MAESTRO_ACCESSES))}
    raw = read_npz("maestro", {f"{key}_{f}": shapes.get(f, (-1,)) for f in fields})
    n = len(raw[f"{key}_names"])
    for f in fields[1:]:
        if len(raw[f"{key}_{f}"]) != n:
            raise ValueError(f"{DATA_DIR / 'maestro.npz'}: field '{key}_{f}' has a length != {n}")
    if (raw[f"{key}_accesses"] < 0).any():
        raise ValueError(f"{DATA_DIR / 'maestro.npz'}: field '{key}_accesses' has negative counts")
    return MaestroRun(
        key, tuple(str(x) for x in raw[f"{key}_names"]), *(raw[f"{key}_{f}"] for f in fields[1:])
    )


@functools.cache
def load_maestro_hw() -> tuple[np.ndarray, np.ndarray]:
    """MAESTRO's 50 example accelerators: their file numbers int32[50] (``accelerator_<i>.m``,
    1..51 without 11) and int32[50, 5] num_pes, l1_size_cstr, l2_size_cstr, noc_bw_cstr,
    offchip_bw_cstr."""
    raw = read_npz("maestro", {"hw_index": (50,), "hw": (50, 5)})
    return raw["hw_index"], raw["hw"]


@functools.cache
def load_darts_layers(model: int) -> np.ndarray:
    """MAESTRO's layer list of DARTS genotype ``model`` (0-9): int32[n, 8] as MaestroRun.dims."""
    if model not in range(10):
        raise ValueError(f"DARTS model examples are 0..9, got {model}")
    return read_npz("maestro", {f"darts{model}_dims": (-1, 8)})[f"darts{model}_dims"]


@dataclasses.dataclass(frozen=True)
class NB301Sample:
    """The thesis's NAS-Bench-301 sample (Chapter 4)."""

    archs: np.ndarray  # int8[10000, 32] NB301 vectors (l2o.spaces.nb301)
    accuracy: np.ndarray  # float64[10000] NB301 v0.9 surrogate CIFAR-10 accuracy (%)
    flops: np.ndarray  # float64[10000] MACs of the 16x16 network (the authors' "FLOPs")
    selected: np.ndarray  # int32[1018] the archs the thesis simulated


@functools.cache
def load_nb301() -> NB301Sample:
    raw = read_npz(
        "nb301",
        {"archs": (10000, 32), "accuracy": (10000,), "flops": (10000,), "selected": (1018,)},
    )
    if raw["selected"].min() < 0 or raw["selected"].max() >= 10000:
        raise ValueError(f"{DATA_DIR / 'nb301.npz'}: field 'selected' indexes outside the sample")
    return NB301Sample(raw["archs"], raw["accuracy"], raw["flops"], raw["selected"])
