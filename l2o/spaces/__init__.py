"""Design spaces: every architecture is an ``int32[L]`` vector of per-slot choice indices."""

from __future__ import annotations

import functools

from l2o.spaces.base import Layer, Space
from l2o.spaces.fbnet import FBNet
from l2o.spaces.nb201 import NB201
from l2o.spaces.nb301 import NB301
from l2o.spaces.ofa_mbv3 import OFAMobileNetV3

SPACES: dict[str, type[Space]] = {
    "nb201": NB201,
    "fbnet": FBNet,
    "ofa_mbv3": OFAMobileNetV3,
    "nb301": NB301,
}


@functools.cache
def get_space(name: str) -> Space:
    """The space called ``name`` with its default settings."""
    if name not in SPACES:
        raise ValueError(f"unknown space {name!r}; known spaces: {', '.join(SPACES)}")
    return SPACES[name]()


__all__ = ["FBNet", "Layer", "NB201", "NB301", "OFAMobileNetV3", "SPACES", "Space", "get_space"]
