"""Published reference numbers and device splits: one source for configs, library and tests.

Provenance:

- ``HELP``: H. Lee, S. Lee, S. Chong, S. J. Hwang, *HELP: Hardware-Adaptive Efficient Latency
  Prediction for NAS via Meta-Learning*, NeurIPS 2021. Table 2-3 (SRCC of latency predictors on
  unseen devices with 10 target samples), Table 4 (latency-constrained NAS on NAS-Bench-201,
  CIFAR-100, on unseen devices with 10 target samples), and the meta-training / validation /
  test device split of its NAS-Bench-201 and FBNet experiments (its released code,
  ``data/nasbench201`` and ``data/fbnet``).
- The OFA-MobileNetV3 split (12 GPU settings measured by HELP's authors) is this project's:
  train on two GPU kinds, early-stop on a third, test on unseen Titan RTX and V100 settings.

A space's config names its split (``conf/space/<space>.yaml``, ``split: help``); :func:`split`
resolves it here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Split:
    """Devices for meta-training, early stopping and testing (names in the space's table)."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def check(self, known: Sequence[str], space: str) -> None:
        names = [*self.train, *self.val, *self.test]
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(
                f"split names devices {unknown} not measured in {space}; measured: {list(known)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"a device appears in two parts of the split: {names}")
        if len(self.train) < 2 or not self.test:
            raise ValueError("the split needs at least 2 training devices and 1 test device")


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_HELP_TRAIN_NB201 = _names(
    "1080ti_1 1080ti_32 1080ti_256 silver_4114 silver_4210r samsung_a50 pixel3 essential_ph_1 "
    "samsung_s7"
)

# space -> split name -> Split
SPLITS: dict[str, dict[str, Split]] = {
    "nb201": {
        "help": Split(
            train=_HELP_TRAIN_NB201,
            val=_names("titanx_1 titanx_32 titanx_256 gold_6240"),
            test=_names("titan_rtx_256 gold_6226 fpga pixel2 raspi4 eyeriss"),
        )
    },
    "fbnet": {  # HELP's FBNet test devices; FBNet measures batch 64 where NB201 has 256
        "help": Split(
            train=_names(
                "1080ti_1 1080ti_32 1080ti_64 silver_4114 silver_4210r samsung_a50 pixel3 "
                "essential_ph_1 samsung_s7"
            ),
            val=_names("titanx_1 titanx_32 titanx_64 gold_6240"),
            test=_names("raspi4 eyeriss fpga"),
        )
    },
    "ofa_mbv3": {
        "help": Split(
            train=_names("2080ti_1 2080ti_32 2080ti_64 titanxp_1 titanxp_32 titanxp_64"),
            val=("v100_32",),
            test=_names("titan_rtx_1 titan_rtx_32 titan_rtx_64 v100_1 v100_64"),
        )
    },
}

HELP_NB201_SPLIT = SPLITS["nb201"]["help"]


def split(space: str, name: str) -> Split:
    """The named device split of ``space`` (:data:`SPLITS`)."""
    known = SPLITS.get(space, {})
    if name not in known:
        raise ValueError(f"no split {name!r} for space {space!r}; known: {sorted(known) or 'none'}")
    return known[name]


# HELP Tables 2-3: SRCC on unseen devices with 10 target samples
HELP_SRCC: dict[str, dict[str, float]] = {
    "nb201": {
        "titan_rtx_256": 0.987,
        "gold_6226": 0.989,
        "fpga": 0.985,
        "pixel2": 0.802,
        "raspi4": 0.890,
        "eyeriss": 0.940,
    },
    "fbnet": {"raspi4": 0.887, "eyeriss": 0.943, "fpga": 0.892},
}

# HELP Table 4: latency-constrained NAS on NB201 (CIFAR-100) on unseen devices with 10 target
# samples: device -> [(constraint ms, HELP's latency ms, HELP's accuracy %)]
HELP_TABLE4: dict[str, list[tuple[float, float, float]]] = {
    "titan_rtx_256": [(18, 17.8, 69.7), (21, 18.9, 71.5), (25, 24.2, 71.8)],
    "gold_6226": [(8, 8.0, 67.3), (11, 10.7, 70.2), (14, 14.3, 72.1)],
    "pixel2": [(14, 13.0, 69.7), (18, 19.0, 71.8), (22, 25.0, 73.2)],
    "eyeriss": [(5, 3.9, 71.5), (7, 5.1, 71.8), (9, 9.1, 73.5)],
    "fpga": [(4, 3.8, 70.2), (5, 4.7, 71.8), (6, 7.4, 73.5)],
}

# NB201's accuracies are means over 3 seeds of 2-decimal values, stored as float32: 71.5 reads
# back as 71.4999999. Comparisons with HELP's 1-decimal figures allow for that storage noise.
ACCURACY_ATOL = 1e-4


def at_least(accuracy: float, reference: float) -> bool:
    """``accuracy >= reference`` up to the stored table's float32 noise (:data:`ACCURACY_ATOL`)."""
    return bool(accuracy >= reference - ACCURACY_ATOL)
