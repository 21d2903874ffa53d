"""Design spaces: every architecture is an ``int32[L]`` vector of per-slot choice indices.

Spaces are pure structure and do no I/O. :data:`SPACES` names their classes; a space with the
data it needs (NB201's index order) comes from :func:`l2o.data.get_space`.
"""

from __future__ import annotations

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

__all__ = ["FBNet", "Layer", "NB201", "NB301", "OFAMobileNetV3", "SPACES", "Space"]
