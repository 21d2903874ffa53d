"""Rebuild the compact tables shipped in ``l2o/data`` from the raw public sources.

    python scripts/build_data.py --shared ../shared/data

Every source file is checked against the sha256 listed in its folder's ``SOURCE.txt`` before it
is read; a mismatch stops the build. The outputs are deterministic (same sources, same bytes of
arrays), so a rerun is a no-op for git apart from zip timestamps. Nothing at run time reads the
sources: the package only ever reads what this script wrote.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import pickle
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_torch import load_state_dict  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "l2o" / "data"
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
FBNET_OPS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
# HELP names the OFA-space Titan Xp "titan_xp" but the NB201/FBNet one "titanxp": one device.
DEVICE_RENAMES = {
    "titan_xp_1": "titanxp_1",
    "titan_xp_32": "titanxp_32",
    "titan_xp_64": "titanxp_64",
}
NOTE10_RESOLUTIONS = (160, 176, 192, 208, 224)
# maestro/SOURCE.txt lists no sums, so each folder's is pinned here (Ren-Research/CoDesign @
# b89e171): sha256 of the folder's ``sha256sum`` listing, files in sorted order.
MAESTRO_SHA256 = {
    "layerwise_examples": "c4d318a71a2d11c0b59ea4cecfaa49b761c78888cd0c9e3ebebca400593c4765",
    "hw": "0389a94f75669773cc10b936b0e99dfe11f1886840f2b1acda9a364148a403e3",
    "model_examples": "9a8dacda2ce46464e4af57e9f5aeed14c5c4aa97a85ade8e8f763162e8f65ccf",
}
# nb301/ (its SOURCE.txt lists no sums either)
NB301_SHA256 = "7e09709f19c0ddc29baede144790e9391ec50ebd5ee0bfbbc2b321af45ae83d2"
# The four MAESTRO runs: (file, network, dataflow, PEs).
MAESTRO_RUNS = (
    ("MobileNetV2_kcp_ws_pe256.csv", "mobilenetv2", "kcp", 256),
    ("Resnet50_kcp_ws_pe256.csv", "resnet50", "kcp", 256),
    ("Resnet50_kcp_ws_pe1024.csv", "resnet50", "kcp", 1024),
    ("Resnet50_rs_pe256.csv", "resnet50", "yrp", 256),
)


class Sources:
    """The raw files, each verified against the sha256 of its folder's SOURCE.txt."""

    def __init__(self, root: Path):
        self.root = root
        self.sums: dict[Path, str] = {}
        for source in root.glob("*/SOURCE.txt"):
            for line in source.read_text().splitlines():
                m = re.match(r"\s+(\S+)\s+\d+ bytes\s+sha256=([0-9a-f]{64})", line)
                if m:
                    self.sums[(source.parent / m.group(1)).resolve()] = m.group(2)
        if not self.sums:
            raise SystemExit(f"no SOURCE.txt with sha256 sums under {root}: is --shared right?")

    def path(self, rel: str) -> Path:
        p = (self.root / rel).resolve()
        if p not in self.sums:
            raise SystemExit(f"{p}: not listed in any SOURCE.txt, refusing to read it")
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest != self.sums[p]:
            raise SystemExit(f"{p}: sha256 {digest} != {self.sums[p]} listed in SOURCE.txt")
        return p

    def torch_pickle(self, rel: str):
        """A zip-format .pt whose data.pkl holds plain Python objects."""
        with zipfile.ZipFile(self.path(rel)) as z:
            name = next(n for n in z.namelist() if n.endswith("data.pkl"))
            return pickle.loads(z.read(name))


def help_latency(src: Sources, folder: str, n: int) -> dict[str, np.ndarray]:
    """One HELP space's ``devices`` [D], ``latency_ms`` [D, N] and ``fingerprint_index`` [10]."""
    files = sorted(p.name for p in (src.root / "help" / "data" / folder / "latency").glob("*.pt"))
    names, rows = [], []
    for name in files:
        values = np.asarray(src.torch_pickle(f"help/data/{folder}/latency/{name}"), np.float64)
        if values.shape != (n,):
            raise SystemExit(f"{folder}/latency/{name}: {values.shape[0]} values, expected {n}")
        stem = name.removesuffix(".pt")
        names.append(DEVICE_RENAMES.get(stem, stem))
        rows.append(values)
    order = np.argsort(names)
    return dict(
        devices=np.array([names[i] for i in order]),
        latency_ms=np.stack([rows[i] for i in order]),
        fingerprint_index=np.array(
            src.torch_pickle(f"help/data/{folder}/hardware_embedding_index.pt"), np.int32
        ),
    )


def build_nb201(src: Sources) -> dict:
    str2idx = src.torch_pickle("help/data/nasbench201/str_arch2idx.pt")
    strings = [None] * len(str2idx)
    for s, i in str2idx.items():
        strings[i] = s
    with open(src.path("nats_bench/nats_bench.csv")) as f:
        rows = list(csv.DictReader(f))
    if [r["ArchitectureString"] for r in rows] != strings:
        raise SystemExit("nats_bench.csv rows are not in HELP's NB201 index order")
    ops = np.array(
        [
            [NB201_OPS.index(t.split("~")[0]) for t in re.findall(r"[a-z_0-9]+~\d", s)]
            for s in strings
        ],
        np.int8,
    )
    acc = {
        k: np.array([float(r[c]) for r in rows])
        for k, c in (
            ("cifar10", "CIFAR10TestAccuracy200Epochs"),
            ("cifar100", "CIFAR100TestAccuracy200Epochs"),
            ("imagenet16_120", "ImageNetTestAccuracy200Epochs"),
        )
    }
    return dict(
        ops=ops,
        **help_latency(src, "nasbench201", len(strings)),
        **{f"accuracy_{k}": v for k, v in acc.items()},
    )


def build_fbnet(src: Sources) -> dict:
    meta = src.torch_pickle("help/data/fbnet/metainfo.pt")
    arch = src.torch_pickle("help/data/fbnet/arch.pt")
    ops = np.array([a["op_idx_list"] for a in meta["arch"]], np.int8)
    if not np.array_equal(ops, np.array(arch, np.int8)):
        raise SystemExit("fbnet arch.pt and metainfo.pt disagree")
    names = [[FBNET_OPS[i] for i in a["op_idx_list"]] for a in meta["arch"]]
    if names != [a["arch_str"] for a in meta["arch"]]:
        raise SystemExit("fbnet op names disagree with FBNET_OPS order")
    return dict(ops=ops, **help_latency(src, "fbnet", len(ops)))


def build_ofa(src: Sources) -> dict:
    archs = src.torch_pickle("help/data/ofa/ofa_archs.pt")["arch"]
    return dict(
        kernel=np.array([a["ks"] for a in archs], np.int8),
        expand=np.array([a["e"] for a in archs], np.int8),
        depth=np.array([a["d"] for a in archs], np.int8),
        resolution=np.array([int(np.ravel(a["r"])[0]) for a in archs], np.int16),
        **help_latency(src, "ofa", len(archs)),
    )


def build_ofa_predictor(src: Sources) -> dict:
    state = load_state_dict(src.path("ofa/ofa/acc_predictor.pth"))
    return {name.replace(".", "_"): array for name, array in state.items()}


def pinned_folder(folder: Path, expected: str) -> Path:
    """A source folder whose listing (``sha256sum`` of its files, sorted) has a pinned digest."""
    listing = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
        for p in sorted(folder.iterdir(), key=lambda p: p.name)
    )
    digest = hashlib.sha256(listing.encode()).hexdigest()
    if digest != expected:
        raise SystemExit(f"{folder}: listing sha256 {digest} != {expected} pinned")
    return folder


def maestro_folder(root: Path, name: str) -> Path:
    return pinned_folder(root / "maestro" / name, MAESTRO_SHA256[name])


def build_nb301(root: Path) -> dict[str, np.ndarray]:
    """The 10000 DARTS genotypes as NB301 vectors, their NB301 accuracies, FLOPs (MACs of the
    16x16 network) and the thesis's 1018-arch selection."""
    from l2o.spaces.nb301 import NB301

    folder = pinned_folder(root / "nb301", NB301_SHA256)
    space = NB301()
    genotypes = json.loads((folder / "nb301_genotypes_10k.json").read_text())
    archs = np.stack([space.from_genotype(g) for g in genotypes]).astype(np.int8)

    def floats(name):
        with open(folder / name, "rb") as f:
            return np.asarray(pickle.load(f), np.float64)

    selected = floats("selected_1018_index.pickle").astype(np.int32)
    return {
        "archs": archs,
        "accuracy": floats("nb301_accuracy_10k.pickle"),
        "flops": floats("flops_16x16_10k.pickle"),
        "selected": selected,
    }


def maestro_layer(inputs: int, weights: int, macs: int, previous: int, name: str) -> tuple:
    """(K, C, R, S, Yo, Xo, stride, depthwise) of one MAESTRO layer from its element counts.

    MAESTRO's layer-wise outputs name the layer but not its shape; the shape is the one whose
    input (C·Y·X), weight (K·C·R·S, or C·R·S depthwise) and MAC counts all match, with square
    maps and kernels, no padding (Yo = (Y - R) // stride + 1, MAESTRO's convention) and, among
    several, the one whose C continues the previous layer's output channels. A depthwise layer
    (MAESTRO's DSCONV, K = 1) is stored with K = C.
    """
    found = []
    for depthwise in (True, False):
        for r in (1, 3, 5, 7):
            for stride in (1, 2):
                for y in range(r, 300):
                    if inputs % (y * y):
                        continue
                    c = inputs // (y * y)
                    per_k = c * r * r
                    if weights % per_k or (depthwise and weights != per_k):
                        continue
                    k = c if depthwise else weights // per_k
                    yo = (y - r) // stride + 1
                    for xo in (yo, yo - 1):  # YR-P's CONV1 loses an output column to rounding
                        if weights * yo * xo == macs:
                            found.append((k, c, r, r, yo, xo, stride, int(depthwise)))
    chained = [f for f in found if f[1] == previous]
    if not (chained or found):
        raise SystemExit(f"MAESTRO layer {name}: no shape matches its counts")
    return (chained or found)[0]


def build_maestro(root: Path) -> dict[str, np.ndarray]:
    """MAESTRO's layer-wise runs (shapes recovered from their counts; runtime, energy, sizes and
    the 12 access-count columns ``l2o.data.MAESTRO_ACCESSES``), the 50 hardware files and the
    DARTS layer lists."""
    from l2o.data import MAESTRO_ACCESSES  # the CSV's names of the count columns kept

    out = {}
    runs = maestro_folder(root, "layerwise_examples")
    for file, net, dataflow, pes in MAESTRO_RUNS:
        with open(runs / file) as f:
            rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
        head = rows[0]
        col = {name: head.index(name) for name in head}
        key = f"{net}_{dataflow}_pe{pes}"
        dims, previous = [], 3
        for row in rows[1:]:
            count = [
                int(row[col[c]])
                for c in ("Num Total Input Pixels", "Num Total Weight Pixels", "Num MACs")
            ]
            layer = maestro_layer(*count, previous, row[col["Layer Number"]])
            dims.append(layer)
            previous = layer[0]
            if int(row[col["NumPEs"]]) != pes:
                raise SystemExit(f"{file}: NumPEs {row[col['NumPEs']]} != {pes}")
        out[f"{key}_names"] = np.array([row[col["Layer Number"]] for row in rows[1:]])
        out[f"{key}_dims"] = np.array(dims, np.int32)
        for field, name in (
            ("runtime", "Runtime (Cycles)"),
            ("energy", "Activity count-based Energy (nJ)"),
            ("area", "Area"),
            ("l1_bytes", "L1 SRAM Size (Bytes)"),
            ("l2_bytes", "L2 SRAM Size (Bytes)"),
        ):
            out[f"{key}_{field}"] = np.array([float(row[col[name]]) for row in rows[1:]])
        out[f"{key}_accesses"] = np.array(
            [[int(row[col[name]]) for name in MAESTRO_ACCESSES] for row in rows[1:]], np.int64
        )
    hw = maestro_folder(root, "hw")
    fields = ("num_pes", "l1_size_cstr", "l2_size_cstr", "noc_bw_cstr", "offchip_bw_cstr")
    table, index = [], []
    for path in sorted(hw.glob("accelerator_*.m"), key=lambda p: int(p.stem.split("_")[1])):
        spec = dict(re.findall(r"(\w+):\s*(\d+)", path.read_text()))
        table.append([int(spec[f]) for f in fields])
        index.append(int(path.stem.split("_")[1]))
    out["hw"], out["hw_index"] = np.array(table, np.int32), np.array(index, np.int32)
    models = maestro_folder(root, "model_examples")
    shape = re.compile(
        r"Type:\s*(\w+)\s*(?:Stride\s*\{\s*X:\s*(\d+),\s*Y:\s*(\d+)\s*\}\s*)?Dimensions\s*"
        r"\{\s*K:\s*(\d+),\s*C:\s*(\d+),\s*R:\s*(\d+),\s*S:\s*(\d+),\s*Y:\s*(\d+),\s*X:\s*(\d+)"
    )
    for i in range(10):
        text = (models / f"{i}_dnn_model.m").read_text()
        dims = []
        for kind, sx, sy, k, c, r, s_, y, x in shape.findall(text):
            k, c, r, s_, y, x = map(int, (k, c, r, s_, y, x))
            sx, sy = int(sx or 1), int(sy or 1)  # the classifier (Linear) gives no stride
            dw = kind == "DSCONV"
            dims.append(
                (c if dw else k, c, r, s_, (y - r) // sy + 1, (x - s_) // sx + 1, sy, int(dw))
            )
        if len(dims) != text.count("Type:"):
            raise SystemExit(f"{i}_dnn_model.m: parsed {len(dims)} of {text.count('Type:')}")
        out[f"darts{i}_dims"] = np.array(dims, np.int32)
    return out


def build_note10(src: Sources) -> dict:
    tables = {}
    for r in NOTE10_RESOLUTIONS:
        table = yaml.safe_load(src.path(f"ofa/ofa/note10/{r}_lookup_table.yaml").read_text())
        tables[str(r)] = {key: float(v["mean"]) for key, v in sorted(table.items())}
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path("../shared/data"),
        help="the folder with help/, nats_bench/, ofa/ (default ../shared/data)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = parser.parse_args()
    src, out = Sources(args.shared), args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, build in (
        ("nb201", build_nb201),
        ("fbnet", build_fbnet),
        ("ofa_mbv3", build_ofa),
        ("ofa_acc_predictor", build_ofa_predictor),
        ("maestro", lambda src: build_maestro(src.root)),
        ("nb301", lambda src: build_nb301(src.root)),
    ):
        arrays = build(src)
        np.savez_compressed(out / f"{name}.npz", **arrays)
        print(
            f"wrote {out / name}.npz: "
            + ", ".join(f"{k}{list(v.shape)}" for k, v in arrays.items())
        )
    with open(out / "ofa_note10_lut.json", "w") as f:
        json.dump(build_note10(src), f, indent=0, sort_keys=True)
    print(f"wrote {out / 'ofa_note10_lut.json'}")


if __name__ == "__main__":
    main()
