"""Read a legacy (non-zip) PyTorch ``state_dict`` file into numpy arrays, without torch.

The legacy format is five pickles in a row (magic number, protocol version, system info, the
object itself with tensors as persistent storage ids, the list of storage keys), followed by each
storage's raw bytes, preceded by its element count as a little-endian int64.
Only what OFA's accuracy predictors use is supported: float32 storages, contiguous tensors.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np

_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


class _Storage(collections.namedtuple("_Storage", "key dtype numel")):
    pass


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        _, storage_type, key, _location, numel = pid[:5]
        return _Storage(key, storage_type, numel)

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise pickle.UnpicklingError(f"unsupported object {module}.{name} in legacy torch file")


def _rebuild_tensor(storage, offset, size, stride, *_):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Load ``{name: array}`` from a legacy torch file at ``path``."""
    path = Path(path)
    with path.open("rb") as f:
        if _Unpickler(f).load() != _MAGIC:
            raise ValueError(f"{path}: not a legacy torch file (bad magic number)")
        _Unpickler(f).load()  # protocol version
        _Unpickler(f).load()  # system info
        state = _Unpickler(f).load()
        keys = _Unpickler(f).load()
        raw = {}
        storages = {t[1].key: t[1] for t in state.values()}
        for key in keys:
            storage = storages[key]
            numel = int(np.frombuffer(f.read(8), "<i8")[0])
            dtype = np.dtype(storage.dtype)
            raw[key] = np.frombuffer(f.read(numel * dtype.itemsize), dtype)
    out = {}
    for name, (_, storage, offset, size, stride) in state.items():
        flat = raw[storage.key]
        n = int(np.prod(size))
        expected = tuple(int(np.prod(size[i + 1 :])) for i in range(len(size)))
        if stride != expected:
            raise ValueError(f"{path}: tensor {name} is not contiguous (stride {stride})")
        out[name] = flat[offset : offset + n].reshape(size).copy()
    return out
