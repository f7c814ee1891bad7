"""Zoneout's counter-based Bernoulli draws (`kernels.draws`): SplitMix64's published stream, the
compiled and the torch-op forms equal bit for bit, the probability and determinism under
torch.manual_seed, and the zoneout layer drawing through them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import LSTMCell, Zoneout
from rnnkit.kernels.backend import using
from rnnkit.kernels.draws import _draw, bernoulli, draws_reference, threshold

MASK = 2 ** 64 - 1


def splitmix64(seed: int, count: int) -> list[int]:
    """SplitMix64 (Steele et al. 2014) in Python integers, written from the paper's definition."""
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def test_the_stream_is_splitmix64():
    assert splitmix64(0, 1) == [0xE220A8397B1DCDAF]          # the generator's first output from seed 0
    for seed in (0, 1, 2 ** 63 - 2, 123456789):
        want = [z >> 11 for z in splitmix64(seed, 50)]
        assert draws_reference(50, seed).tolist() == want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.999, 1.0])
def test_compiled_draws_equal_the_torch_ops(p, dtype):
    seed, n = 987654321, 10_000
    out = np.empty(n, dtype)
    _draw(out, np.uint64(seed), np.uint64(threshold(p)))
    want = (draws_reference(n, seed) < threshold(p)).numpy()
    assert np.array_equal(out, want.astype(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_probability_dtype_and_seed(dtype):
    like = torch.zeros(1, dtype=dtype)
    torch.manual_seed(3)
    a = bernoulli((16, 50, 64), 0.2, like)
    b = bernoulli((16, 50, 64), 0.2, like)
    torch.manual_seed(3)
    assert torch.equal(bernoulli((16, 50, 64), 0.2, like), a)            # manual_seed fixes the draws
    assert not torch.equal(a, b)                                         # and each call draws anew
    assert a.dtype == dtype and a.shape == (16, 50, 64) and set(a.unique().tolist()) == {0.0, 1.0}
    n = a.numel()
    assert abs(a.mean().item() - 0.2) < 5 * (0.2 * 0.8 / n) ** 0.5      # five standard errors
    assert not bernoulli((4, 4, 4), 0.0, like).any() and bernoulli((4, 4, 4), 1.0, like).all()


@pytest.mark.parametrize("bits", [False, True], ids=["float", "bool"])
def test_both_backends_draw_the_same_masks(bits):
    like = torch.zeros(1)
    draws = []
    for backend in ("native", "python"):
        with using(backend):
            torch.manual_seed(7)
            draws.append(bernoulli((3, 9, 5), 0.4, like, bits=bits))
    assert draws[0].dtype == draws[1].dtype == (torch.bool if bits else torch.float32)
    assert torch.equal(*draws)


def test_bool_draws_are_the_float_draws():
    like = torch.zeros(1, dtype=torch.float64)
    torch.manual_seed(5)
    bits = bernoulli((8, 30, 16), 0.3, like, bits=True)
    torch.manual_seed(5)
    floats = bernoulli((8, 30, 16), 0.3, like)
    assert bits.dtype == torch.bool and floats.dtype == torch.float64
    assert torch.equal(bits.to(torch.float64), floats) and 0 < bits.sum() < bits.numel()


def test_bad_probability_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        threshold(1.5)


def test_zoneout_draws_through_it():
    layer = Zoneout(LSTMCell(3, 8), 0.3, p_c=0.6).train()
    state = layer.initial_state(torch.zeros(64, 5, 3))
    torch.manual_seed(11)
    keep_h, keep_c = layer.keep_old(state, 40)
    torch.manual_seed(11)
    assert keep_h.dtype == torch.bool                                   # one byte a draw (kernels.draws)
    assert torch.equal(keep_h, bernoulli((64, 40, 8), 0.3, state[0], bits=True))
    assert keep_c.shape == (64, 40, 8) and abs(keep_c.float().mean().item() - 0.6) < 0.05
    assert layer.eval().keep_old(state, 40) == (0.3, 0.6)


def test_other_devices_keep_float_draws_in_likes_dtype():
    # the GPU's kernels take float carries (torch's bernoulli_ there); "meta" stands in for it here
    like = torch.zeros(1, dtype=torch.float64, device="meta")
    out = bernoulli((2, 3, 4), 0.5, like, bits=True)
    assert out.dtype == torch.float64 and out.device.type == "meta" and out.shape == (2, 3, 4)
