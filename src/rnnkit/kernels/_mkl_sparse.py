"""MKL's sparse x dense product (`mkl_sparse_?_mm`, the inspector-executor API) called from numba loops.

torch's CSR `addmm` on the CPU is this routine, but each call from Python also checks its
arguments, wraps the CSR arrays in a new MKL handle and destroys it: over the 600 steps of a
batched echo-state run that is about a sixth of the product's time, and the step loop around it
stays in Python. Called directly, one handle serves a whole run and the loop that calls it can be
compiled (`reservoir_batch`): the product C = W B + beta C reads B and writes C in place through
leading dimensions, so a step's live columns and a slice of a (H, T, n) array need no copy.

The routine takes a `struct matrix_descr` (three ints, 12 bytes) by value. ctypes and numba cannot
pass a struct through a function pointer that numba calls, so it goes as the two integer
eightbytes the x86-64 System V ABI (section 3.2.3) puts in two registers for it: (type | mode << 32)
and diag. That holds on Linux and macOS on x86-64 only (Windows passes such a struct by
reference), so `mm_function` is None elsewhere, as it is where torch's library lacks the symbols
(non-MKL builds) or where its integers are not 32-bit: the first use multiplies a small known
matrix and keeps the direct call only if the result is right. Callers then use torch's `addmm`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import platform
import sys
import warnings

import numpy as np
import torch

# mkl_spblas.h: SPARSE_OPERATION_NON_TRANSPOSE, SPARSE_MATRIX_TYPE_GENERAL, SPARSE_FILL_MODE_LOWER,
# SPARSE_DIAG_NON_UNIT, SPARSE_LAYOUT_ROW_MAJOR, SPARSE_INDEX_BASE_ZERO, SPARSE_STATUS_SUCCESS
NON_TRANSPOSE, GENERAL, LOWER, NON_UNIT, ROW_MAJOR, BASE_ZERO, SUCCESS = 10, 20, 40, 50, 101, 0, 0
DESCR = (GENERAL | LOWER << 32, NON_UNIT)            # the struct's two eightbytes (see above)
_LETTER = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}
_SCALAR = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_CACHE: dict = {}


def _mm_type(scalar):
    # (operation, alpha, handle, descr lo, descr hi, layout, B, columns, ldb, beta, C, ldc)
    return ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, scalar, ctypes.c_uint64, ctypes.c_int64, ctypes.c_int64,
                            ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, scalar, ctypes.c_void_p,
                            ctypes.c_int)


def int32_csr(dense: torch.Tensor) -> torch.Tensor:
    """`dense` as a CSR tensor with int32 indices: MKL's LP64 own, so neither torch's CSR `addmm`
    nor `Handle` need convert them on every call (5-10% per product)."""
    with warnings.catch_warnings():                  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        csr = dense.to_sparse_csr()
        return torch.sparse_csr_tensor(csr.crow_indices().int(), csr.col_indices().int(), csr.values(), csr.shape)


@functools.cache
def _library() -> ctypes.CDLL | None:
    if not (platform.machine().lower() in ("x86_64", "amd64") and sys.platform in ("linux", "darwin")):
        return None
    for path in glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "*torch_cpu.*")):
        try:
            lib = ctypes.CDLL(path)
            lib.mkl_sparse_d_mm, lib.mkl_sparse_s_mm, lib.mkl_sparse_destroy     # noqa: B018 - present?
            return lib
        except (OSError, AttributeError):
            continue
    return None


def mm_function(dtype: np.dtype):
    """`mkl_sparse_?_mm` for `dtype` as a ctypes function of the split-descriptor type above, or None
    where it cannot be called directly (see the module's docstring)."""
    dtype = np.dtype(dtype)
    if dtype not in _CACHE:
        lib = _library()
        found = None
        if lib is not None and dtype in _LETTER:
            name = f"mkl_sparse_{_LETTER[dtype]}_mm"
            found = _mm_type(_SCALAR[dtype])(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value)
        _CACHE[dtype] = found                         # set before the check, which calls back in here
        if found is not None and not _works(dtype):
            _CACHE[dtype] = None
    return _CACHE[dtype]


class Handle:
    """An MKL CSR handle on the arrays of a CSR tensor with int32 indices (no copy: the tensor must
    outlive the handle), destroyed on exit; `value` is what `mm_function` takes."""

    def __init__(self, csr: torch.Tensor) -> None:
        self.csr = csr
        self.value = 0

    def __enter__(self) -> Handle:
        lib, csr = _library(), self.csr
        rows, cols = csr.shape
        crow, col, values = (t.numpy() for t in (csr.crow_indices(), csr.col_indices(), csr.values()))
        if crow.dtype != np.int32 or col.dtype != np.int32:
            raise TypeError("MKL's LP64 interface takes int32 CSR indices")
        create = getattr(lib, f"mkl_sparse_{_LETTER[values.dtype]}_create_csr")
        pointer = lambda a, offset=0: ctypes.c_void_p(a.ctypes.data + offset * a.itemsize)  # noqa: E731
        handle = ctypes.c_void_p()
        status = create(ctypes.byref(handle), BASE_ZERO, rows, cols, pointer(crow), pointer(crow, 1),
                        pointer(col), pointer(values))
        if status != SUCCESS:
            raise RuntimeError(f"mkl_sparse_{_LETTER[values.dtype]}_create_csr failed with status {status}")
        self.value = handle.value or 0
        return self

    def __exit__(self, *exc) -> None:
        if self.value:
            _library().mkl_sparse_destroy(ctypes.c_void_p(self.value))
            self.value = 0


@contextlib.contextmanager
def threads_here(n: int):
    """MKL on `n` threads in the calling thread only (`MKL_Set_Num_Threads_Local`), as before on
    exit. A new thread's MKL runs on MKL's global count until torch runs an op in it: torch sets
    each thread's count lazily, so a thread that calls MKL directly and never torch would ignore
    `torch.set_num_threads` (reservoir_batch's chunk threads each ran a two-thread product on the
    two cores, 20% slower than one thread each)."""
    lib = _library()
    local = getattr(lib, "MKL_Set_Num_Threads_Local", None) if lib is not None else None
    if local is None:
        yield
        return
    previous = local(ctypes.c_int(n))                # 0: this thread followed the global count
    try:
        yield
    finally:
        local(ctypes.c_int(previous))


def multiply(mm, handle: int, b: np.ndarray, c: np.ndarray, beta: float = 1.0) -> int:
    """c (m, n) <- W b + beta c through `mm` from Python (row-major, contiguous rows): what the
    compiled loops do per step, for the check below and the tests."""
    return mm(NON_TRANSPOSE, 1.0, handle, DESCR[0], DESCR[1], ROW_MAJOR, b.ctypes.data, b.shape[1],
              b.strides[0] // b.itemsize, beta, c.ctypes.data, c.strides[0] // c.itemsize)


def _works(dtype: np.dtype) -> bool:
    """One 5 x 4 product through the direct call, against numpy: catches a library whose integers
    or calling convention differ from what this module assumes."""
    w = np.array([[0, 2, 0, 0], [1, 0, 0, 3], [0, 0, 0, 0], [0, 0, 5, 0], [4, 0, 0, 6]], dtype)
    csr = int32_csr(torch.from_numpy(w))
    b = np.arange(12, dtype=dtype).reshape(4, 3)
    c = np.ones((5, 3), dtype)
    try:
        with Handle(csr) as handle:
            status = multiply(_CACHE[dtype], handle.value, b, c, beta=0.5)
    except (RuntimeError, TypeError, OSError):
        return False
    return status == SUCCESS and np.array_equal(c, w @ b + 0.5)
