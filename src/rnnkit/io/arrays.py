"""Named numpy arrays and a few string fields in one safetensors file: how a run keeps a fitted
non-torch model (text classification's n-gram regression, sequence classification's MiniRocket)
beside its weights, written atomically and read back in one pass."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from .files import atomic_write


def save_arrays(path: str | Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> None:
    """`arrays` (made C-contiguous: safetensors writes a buffer as it lies) and `metadata` to `path`."""
    tensors = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=dict(metadata)))


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(the arrays, the metadata) of a file `save_arrays` wrote."""
    with safe_open(str(path), framework="numpy") as f:
        return {name: f.get_tensor(name) for name in f.keys()}, dict(f.metadata() or {})
