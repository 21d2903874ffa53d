"""The ``space`` config group (``conf/space/<name>.yaml``): which design space, its device split
and its accuracy labels."""

from __future__ import annotations

import dataclasses

from l2o.config import lookup
from l2o.spaces import SPACES


@dataclasses.dataclass(frozen=True)
class SpaceConfig:
    name: str = "nb201"  # a registered space (l2o.spaces.SPACES; l2o.data.get_space builds it)
    split: str | None = None  # a device split of the space (l2o.data.references.SPLITS)
    accuracy_dataset: str | None = None  # the measured accuracy labels (NB201: cifar100, ...)

    def __post_init__(self):
        lookup(SPACES, self.name, "space")


# the options of conf/space/ that experiments default to
NB201_CONFIG = SpaceConfig("nb201", "help", "cifar100")
NB301_CONFIG = SpaceConfig("nb301")
