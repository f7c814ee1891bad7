"""Carries as the native loops take and keep them (`_native_common.pack_carry`): one byte a weight
and a table of the weights' values. Zoneout's bool draws are kept as they are, float carries are
encoded exactly, and backward keeps the bytes, not a float copy (docs/benchmarks.md, memory)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.kernels._common import carry_weights
from rnnkit.kernels._native_common import TABLE, available, pack_carry
from rnnkit.kernels.lstm_native import NativeLSTMLoop

pytestmark = pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")

F64 = torch.float64


def decode(packed) -> np.ndarray:
    codes, table = packed
    return table[codes]


def test_bool_draws_are_kept_as_their_bytes():
    draws = torch.rand(4, 7, 5) < 0.3
    codes, table = pack_carry(draws, F64)
    assert codes.dtype == np.uint8 and codes.shape == (4, 7, 5) and table.tolist() == [0.0, 1.0]
    assert np.shares_memory(codes, draws.numpy())                             # no copy
    assert np.array_equal(decode((codes, table)), draws.double().numpy())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_float_carries_are_encoded_exactly(dtype):
    binary = torch.bernoulli(torch.full((3, 6, 9), 0.4, dtype=dtype))
    codes, table = pack_carry(binary, dtype)
    assert table.tolist() == [0.0, 1.0] and np.array_equal(codes, binary.numpy().astype(np.uint8))
    # evaluation with padding: p on valid steps, 1 on padded ones; and arbitrary weights (the tests' rand)
    mask = torch.arange(6)[None] < torch.tensor([6, 2, 0])[:, None]
    for k in (carry_weights((0.3,), mask, torch.empty(0, dtype=dtype), 1)[0], torch.rand(2, 5, 4, dtype=dtype)):
        packed = pack_carry(k, dtype)
        assert packed[1].dtype == k.numpy().dtype and np.array_equal(decode(packed), k.numpy())


def test_scalars_and_absent_carries():
    assert decode(pack_carry(None, F64)).tolist() == [[[0.0]]]
    assert decode(pack_carry(0.25, torch.float32)).tolist() == [[[0.25]]]
    packed = pack_carry(0.25, F64)
    assert pack_carry(packed, F64) is packed                                   # packed already


def test_too_many_distinct_weights_are_refused():
    k = torch.arange(TABLE + 1, dtype=F64).div(TABLE + 1).view(1, -1, 1)
    with pytest.raises(ValueError, match=f"at most {TABLE} distinct"):
        pack_carry(k, F64)
    with pytest.raises(ValueError, match=r"\(B, T, n\)"):
        pack_carry(torch.zeros(3, 4), F64)


def test_backward_keeps_bytes_and_bool_equals_float_draws():
    torch.manual_seed(0)
    B, T, H = 3, 6, 5
    xp, h0, c0, w = (torch.randn(*s, dtype=F64) for s in [(B, T, 4 * H), (B, H), (B, H), (4 * H, H)])
    draws = (torch.rand(B, T, H) < 0.3, torch.rand(B, T, H) < 0.5)
    results = []
    for keeps in (draws, tuple(d.to(F64) for d in draws)):
        leaves = [a.clone().requires_grad_() for a in (xp, h0, c0, w)]
        y, h, c = NativeLSTMLoop.apply(*leaves, None, None, None, None, *keeps, None, 0.0)
        kept = y.grad_fn.keeps
        assert all(codes.dtype == np.uint8 and codes.shape == (B, T, H) for codes, _ in kept)
        results.append([y, h, c, *torch.autograd.grad((y.sum() + h.sum() + c.sum()), leaves)])
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
