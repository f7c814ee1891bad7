"""The native loops' pool of big arrays (`kernels.workspace`): a freed array is reused, a live one
never is, the pool keeps no more than its limit, and every native loop gives the reference loop's
outputs and gradients when all its arrays come from the pool, dirty with NaN from earlier use."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.kernels import backend, workspace
from rnnkit.kernels.gru_native import available

BIG = (1024, 1024)                        # 4 MiB of float32: pooled


@pytest.fixture
def pool():
    workspace.release()
    yield
    workspace.release()


def test_a_freed_big_array_is_reused_and_a_live_one_never(pool):
    a = workspace.empty(BIG, torch.float32)
    where = a.data_ptr()
    b = workspace.empty(BIG, torch.float32)             # a is alive: b is other memory
    assert b.data_ptr() != where
    view = a[3:]
    del a
    assert workspace.held() == 0                         # a view keeps it
    del view
    assert workspace.held() == 4 << 20
    c = workspace.empty((512, 2048), torch.float32)     # any shape of the same size
    assert c.data_ptr() == where and workspace.held() == 0
    d = workspace.empty((1024, 512), torch.float64)     # the same bytes as float64
    assert d.dtype == torch.float64 and d.shape == (1024, 512)


def test_small_arrays_bypass_it_and_a_much_smaller_request_does_not_take_a_big_buffer(pool):
    workspace.empty((10, 10), torch.float32)                # freed at once
    assert workspace.held() == 0
    big = workspace.empty((4096, 1024), torch.float32)     # 16 MiB
    where = big.data_ptr()
    del big
    small = workspace.empty(BIG, torch.float32)            # 4 MiB: under 1/SLACK of it
    assert small.data_ptr() != where and workspace.held() == 16 << 20


def test_the_pool_keeps_at_most_its_limit_oldest_dropped_first(pool):
    before = workspace.limit()
    try:
        workspace.set_limit(9 << 20)
        a, b, c = (workspace.empty(BIG, torch.float32) for _ in range(3))
        oldest, kept = a.data_ptr(), {b.data_ptr(), c.data_ptr()}
        del a, b, c                                       # freed in this order
        assert workspace.held() == 8 << 20                # two of the three 4 MiB buffers: b's and c's
        again = [workspace.empty(BIG, torch.float32) for _ in range(2)]
        assert {t.data_ptr() for t in again} == kept and oldest not in kept
        workspace.set_limit(0)
        assert workspace.held() == 0
        with pytest.raises(ValueError, match="bytes >= 0"):
            workspace.set_limit(-1)
    finally:
        workspace.set_limit(before)


LAYERS = {
    "gru": lambda: rk.GRUCell(5, 8),
    "lstm+zoneout": lambda: rk.Zoneout(rk.LSTMCell(5, 8), 0.3, p_c=0.2),
    "lstm+rdrop": lambda: rk.RecurrentDropout(rk.LSTMCell(5, 8), 0.4),
    "elman": lambda: rk.ElmanCell(5, 8),
    "ln_lstm": lambda: rk.LayerNormLSTMCell(5, 8),
    "ln_gru": lambda: rk.LayerNormGRUCell(5, 8),
    "mingru": lambda: rk.MinGRUCell(5, 8),
}


@pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")
@pytest.mark.parametrize("name", LAYERS)
def test_every_native_loop_is_right_on_dirty_pooled_arrays(name, pool, monkeypatch):
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)          # every array of the loops from the pool
    torch.manual_seed(0)
    layer = rk.Recurrent(LAYERS[name]()).double()
    x = torch.randn(3, 7, 5, dtype=torch.float64)
    lengths = torch.tensor([7, 4, 6])

    def step() -> list[torch.Tensor]:
        torch.manual_seed(1)
        y, _ = layer(x, lengths=lengths)
        (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)).sum().backward()
        out = [y.detach(), *(p.grad.clone() for p in layer.parameters())]
        layer.zero_grad()
        return out

    with backend.using("python"):
        expected = step()
    for size in range(8, 16384, 8):                         # dirty buffers of every size the loops ask for
        workspace.empty((size,), torch.uint8).fill_(255)    # all bits set: NaN as float32 and float64
    dirty = workspace.held()
    for call in range(2):                                   # the second call on the first one's buffers too
        got = step()
        if call == 0:
            assert workspace.held() < dirty                 # the loops' arrays came from those
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")
def test_a_training_run_gives_the_pool_back_when_it_ends(pool, monkeypatch, tmp_path):
    from rnnkit.cli import main

    monkeypatch.setattr(workspace, "MIN_BYTES", 0)          # the tiny run's arrays pooled too
    real, seen = workspace.release, []
    monkeypatch.setattr(workspace, "release", lambda: (seen.append(workspace.held()), real()))
    assert main(["train", "configs/adding_lstm.toml", "--task.length=6", "--task.train_size=16", "--model.cell=gru",
                 "--model.hidden_size=8", "--train.iterations=3", "--train.batch_size=4", "--train.eval_every=3",
                 "--train.plots=false", f"--out_dir={tmp_path / 'run'}"]) == 0
    assert seen and seen[-1] > 0 and workspace.held() == 0  # it held the run's freed arrays until the end
