"""The ``space`` config group (``conf/space/<name>.yaml``) as a schema every experiment shares."""

from __future__ import annotations

import dataclasses

from l2o.config import lookup
from l2o.data import references
from l2o.spaces import SPACES


@dataclasses.dataclass(frozen=True)
class SpaceConfig:
    """A design space as an experiment takes it; the defaults are NAS-Bench-201's option.

    Each ``conf/space/<name>.yaml`` sets every field: experiments default to different spaces,
    so an option never leans on the schema's defaults."""

    name: str = "nb201"  # l2o.spaces.SPACES
    split: str | None = "help"  # the space's device split (l2o.data.references.SPLITS); null: none
    accuracy_dataset: str | None = "cifar100"  # the accuracy labels; null: the space has none

    def __post_init__(self):
        lookup(SPACES, self.name, "space")
        if self.split is not None:
            references.split(self.name, self.split)

    def device_split(self) -> references.Split:
        """The named split (train, val, test devices)."""
        if self.split is None:
            raise ValueError(f"space {self.name!r} names no device split (space.split is null)")
        return references.split(self.name, self.split)


NB301 = SpaceConfig("nb301", split=None, accuracy_dataset=None)
