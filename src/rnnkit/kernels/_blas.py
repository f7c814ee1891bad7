"""BLAS ?gemm called from inside numba loops, on row-major numpy arrays, with no copy.

A numba loop that does one small GEMM per time step cannot go through np.dot (it needs
contiguous operands, allocates or overwrites its output, and has no β). The Fortran routine is
called directly instead, through a ctypes function pointer that the loop receives as an argument
(a ctypes global would be baked into the machine code as an address and could not be cached).
Row-major is the transposed column-major product, C = A B  <=>  Cᵀ = Bᵀ Aᵀ, so a step's slice of
a (B, T, n) array is a matrix with leading dimension T n.

Every step multiplies by the same W_hh, so where the library has MKL's packed GEMM (`SGEMM_PACK`,
`SGEMM_COMPUTE`: torch's MKL exports them for float32, not for float64), W_hh is packed into MKL's
internal layout once per call (`packed_weight`) and the steps skip re-packing it (`gemm_w`):
200 steps of (B, H) x (H, G) took 18-33% less time for (B, H, G) from (16, 128, 512) to
(64, 512, 1536) on the 2-core Xeon, with results equal to the plain GEMM's bit for bit there
(docs/benchmarks.md). Elsewhere `gemm_w` is `gemm`.

Two libraries export the routine: torch's own (MKL in the x86 wheels: the GEMM torch.mm runs,
with the threads `torch.set_num_threads` sets) and scipy's OpenBLAS (`scipy.linalg.cython_blas`,
what numba's np.dot calls; its thread pool follows OPENBLAS_NUM_THREADS instead). The first is
preferred when torch's library exports it: on one core of a Xeon (Emerald Rapids), a (32, 256) x
(256, 1024) float32 step takes 185 us with MKL and 370 us with OpenBLAS. Integers go in 8-byte
slots, which LP64 and ILP64 builds both read correctly on a little-endian machine.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading

import numpy as np
import torch

# All thirteen arguments of Fortran ?gemm are pointers (char*, int*, scalar*, array*); ?gemm_compute
# has no alpha (it went into the packing), so twelve.
_GEMM_TYPE = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 13))
_COMPUTE_TYPE = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 12))
_PACKED = {np.dtype(np.float32): "SGEMM"}            # torch's MKL exports no DGEMM_PACK
_NAMES = {np.dtype(np.float32): "sgemm", np.dtype(np.float64): "dgemm"}
_CACHE: dict = {}
SOURCES = ("torch", "scipy")                          # in order of preference


def supported() -> bool:
    """The integer slots above assume a little-endian machine."""
    return sys.byteorder == "little"


def gemm_function(dtype: np.dtype, source: str | None = None):
    """sgemm or dgemm for `dtype` as a ctypes function, from `source` ("torch" or "scipy"), or
    from the first of `SOURCES` that has it."""
    name = _NAMES[np.dtype(dtype)]
    for src in (source,) if source else SOURCES:
        if (src, name) not in _CACHE:
            address = _torch_address(name) if src == "torch" else _scipy_address(name)
            _CACHE[src, name] = None if address is None else _GEMM_TYPE(address)
        if _CACHE[src, name] is not None:
            return _CACHE[src, name]
    raise RuntimeError(f"no BLAS {name} found in {source or SOURCES}")


def _torch_address(name: str) -> int | None:
    """The Fortran symbol (`sgemm_`) in torch's CPU library, where it exports one."""
    for path in glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "*torch_cpu.*")):
        try:
            return ctypes.cast(getattr(ctypes.CDLL(path), name + "_"), ctypes.c_void_p).value
        except (OSError, AttributeError):
            continue
    return None


def _packed(dtype: np.dtype) -> tuple | None:
    """(get_size, pack, compute) of MKL's packed GEMM for `dtype` in torch's library, where the
    loops' ?gemm comes from there too; None elsewhere."""
    dtype = np.dtype(dtype)
    if dtype not in _PACKED or gemm_function(dtype) is not _CACHE.get(("torch", _NAMES[dtype])):
        return None                                   # the loops' ?gemm is another library's (SOURCES)
    if ("packed", dtype) not in _CACHE:
        found = None
        for path in glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "*torch_cpu.*")):
            try:
                lib, name = ctypes.CDLL(path), _PACKED[dtype]
                found = (getattr(lib, f"{name}_PACK_GET_SIZE"), getattr(lib, f"{name}_PACK"),
                         _COMPUTE_TYPE(ctypes.cast(getattr(lib, f"{name}_COMPUTE"), ctypes.c_void_p).value))
                found[0].restype = ctypes.c_size_t
                break
            except (OSError, AttributeError):
                continue
        _CACHE["packed", dtype] = found
    return _CACHE["packed", dtype]


def compute_function(dtype: np.dtype):
    """What the loops take as `compute`: MKL's ?gemm_compute for `dtype`, or, where there is none,
    a stand-in of the same type that `gemm_w` never calls (its packed weight is then empty)."""
    packed = _packed(dtype)
    if packed is not None:
        return packed[2]
    return _COMPUTE_TYPE(ctypes.cast(gemm_function(dtype), ctypes.c_void_p).value)


def packed_weight(w: np.ndarray, trans_w: bool, m: int, n: int, k: int) -> np.ndarray:
    """w (a row-major C-contiguous array, as `gemm` takes it) packed for the column-major product
    op(W) (m, k) B (k, n) that the loop repeats, α = 1; an empty array where there is no packed GEMM
    (float64, OpenBLAS, or nothing to multiply)."""
    packed = _packed(w.dtype)
    if packed is None or not (m and n and k):
        return np.empty(0, w.dtype)
    get_size, pack, _ = packed
    ints = [ctypes.c_int64(v) for v in (m, n, k, w.shape[1])]       # 8-byte slots: LP64 reads the low half
    char = lambda c: ctypes.byref(ctypes.c_char(c))                  # noqa: E731
    size = get_size(char(b"A"), *(ctypes.byref(i) for i in ints[:3]))
    out = _pack_buffer(-(-size // w.itemsize), w.dtype)
    alpha = np.ones(1, w.dtype)
    pack(char(b"A"), char(b"T" if trans_w else b"N"), *(ctypes.byref(i) for i in ints[:3]),
         alpha.ctypes.data_as(ctypes.c_void_p), w.ctypes.data_as(ctypes.c_void_p), ctypes.byref(ints[3]),
         out.ctypes.data_as(ctypes.c_void_p))
    return out


_BUFFERS = threading.local()


def _pack_buffer(size: int, dtype: np.dtype) -> np.ndarray:
    """This thread's buffer for a packed W_hh, reused from call to call: MKL asks for at least 8 MB,
    and fresh pages for it on every forward and backward cost more than packing saves at small
    sizes. A loop uses its packed W_hh only while it runs, and a thread runs one loop at a time."""
    held = getattr(_BUFFERS, str(np.dtype(dtype)), None)
    if held is None or held.size < size:
        held = np.empty(size, dtype)
        setattr(_BUFFERS, str(np.dtype(dtype)), held)
    return held[:size]


def _scipy_address(name: str) -> int | None:
    try:
        from numba.extending import get_cython_function_address
        return get_cython_function_address("scipy.linalg.cython_blas", name)
    except (ImportError, ValueError):                 # pragma: no cover - scipy is a dependency
        return None


def scratch(dtype):  # pragma: no cover - compiled
    """The pointer arguments' storage for `gemm`: integers, scalars, characters."""
    return np.zeros(6, np.int64), np.empty(2, dtype), np.empty(2, np.uint8)


def gemm(function, trans_w, m, n, k, w, b, ldb, c, ldc, beta, slots):  # pragma: no cover - compiled
    """Column-major C (m, n) = op(W) (m, k) B (k, n) + β C through `function`. W is a row-major
    array (its leading dimension is w.shape[1]); b and c are views that start at the first
    element of their matrices. slots: from `scratch`, allocated once per loop."""
    _call(function, 84 if trans_w else 78, 78, m, n, k, w, w.shape[1], b, ldb, c, ldc, beta, slots)  # 'T' / 'N'


def gemm_w(function, compute, trans_w, m, n, k, w, wp, b, ldb, c, ldc, beta, slots):  # pragma: no cover
    """`gemm` with W already packed in wp (`packed_weight` for the same trans_w, m, n, k) through
    `compute`; plain `gemm` when wp is empty."""
    if wp.shape[0] == 0:
        gemm(function, trans_w, m, n, k, w, b, ldb, c, ldc, beta, slots)
        return
    ints, scal, chars = slots
    ints[0], ints[1], ints[2], ints[3], ints[4], ints[5] = m, n, k, w.shape[1], ldb, ldc
    scal[1] = beta
    chars[0], chars[1] = 80, 78                                               # 'P' (packed), 'N'
    compute(chars[0:].ctypes, chars[1:].ctypes, ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, wp.ctypes,
            ints[3:].ctypes, b.ctypes, ints[4:].ctypes, scal[1:].ctypes, c.ctypes, ints[5:].ctypes)


def gemm_nt(function, m, n, k, a, lda, b, ldb, c, ldc, beta, slots):  # pragma: no cover - compiled
    """Column-major C (m, n) = A (m, k) Bᵀ + β C, B (n, k): a, b and c are views that start at the
    first element of their matrices."""
    _call(function, 78, 84, m, n, k, a, lda, b, ldb, c, ldc, beta, slots)


def _call(function, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, beta, slots):  # pragma: no cover - compiled
    ints, scal, chars = slots
    ints[0], ints[1], ints[2], ints[3], ints[4], ints[5] = m, n, k, lda, ldb, ldc
    scal[0], scal[1] = 1, beta
    chars[0], chars[1] = trans_a, trans_b
    function(chars[0:].ctypes, chars[1:].ctypes, ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes,
             scal[0:].ctypes, a.ctypes, ints[3:].ctypes, b.ctypes, ints[4:].ctypes, scal[1:].ctypes,
             c.ctypes, ints[5:].ctypes)


try:
    import numba
except ImportError:                                   # pragma: no cover - exercised where numba is absent
    numba = None
else:
    scratch = numba.njit(cache=True, inline="always")(scratch)
    _call = numba.njit(cache=True, nogil=True, inline="always")(_call)
    gemm, gemm_nt = numba.njit(cache=True, nogil=True)(gemm), numba.njit(cache=True, nogil=True)(gemm_nt)
    gemm_w = numba.njit(cache=True, nogil=True)(gemm_w)
