"""Echo state networks on many sequences at once (kernels/reservoir_batch.py: one CSR x dense product
per step over the batch) and on one sparse stream (the compiled mat-vec of kernels/reservoir_loop.py):
each equal, in float64, to running every sequence alone through the step() loop; the classifier and
ridge training go through the batched run; `benchmarks/esn.py batch --quick` runs end to end."""

from __future__ import annotations

import importlib.util
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from rnnkit import Recurrent, ReservoirCell
from rnnkit.cells.base import Cell
from rnnkit.data.batch import Batch, Splits
from rnnkit.kernels import _mkl_sparse, backend, reservoir_batch, reservoir_loop
from rnnkit.kernels.reservoir import _recurrent_matrix
from rnnkit.models.esn import EchoStateClassifier, EchoStateNetwork
from rnnkit.train.ridge import fit_ridge

F64 = torch.float64
TOL = {"atol": 1e-10, "rtol": 0.0}


def cell(size: int, *, leak: float = 0.3, density: float = 0.1, inputs: int = 3) -> ReservoirCell:
    return ReservoirCell(inputs, size, spectral_radius=0.9, leak=leak, density=density, bias_scaling=0.2,
                         seed=4, dtype=F64)


def one_at_a_time(c: ReservoirCell, x: torch.Tensor, h0: torch.Tensor, lengths: torch.Tensor):
    """The reference: each sequence alone, for its own length, by the step() loop; zero after it."""
    ys = x.new_zeros(x.size(0), x.size(1), c.hidden_size)
    finals = []
    for i, n in enumerate(lengths.tolist()):
        y, (h,) = Cell.reference_scan(c, x[i:i + 1, :n], (h0[i:i + 1],))
        ys[i, :n] = y[0]
        finals.append(h[0])
    return ys, torch.stack(finals)


def direct() -> bool:
    """Whether the batched loop is compiled around MKL's product here (numba, x86-64, torch's MKL)."""
    return reservoir_batch._direct_product(_recurrent_matrix(cell(40))) is not None


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """Counts the batched runs (and the batch size of each)."""
    seen: list[int] = []
    run = reservoir_batch.sparse_batch_states

    def spy(x, *args, **kwargs):
        seen.append(x.size(0))
        return run(x, *args, **kwargs)

    monkeypatch.setattr(reservoir_batch, "sparse_batch_states", spy)
    return seen


@pytest.mark.parametrize("size,leak", [(40, 0.3), (300, 0.3), (300, 1.0)])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("from_rest", [True, False])
@pytest.mark.parametrize("loop", ["mkl", "compiled", "torch-ops"])
def test_batched_states_equal_each_sequence_alone(size: int, leak: float, workers: int, from_rest: bool,
                                                  loop: str, calls: list[int], monkeypatch) -> None:
    """Variable lengths (0 to T, several chunks of the sorted batch), a zero or a given first state,
    one or two chunk threads, and each of the three step loops: compiled with MKL's product called
    directly (`mkl`), in Python with the tanh, leak and output write compiled (`compiled`, where the
    direct call is missing) or in torch ops (where numba is missing): states and final states equal
    the one-by-one reference to 1e-10."""
    if loop == "mkl" and not direct():
        pytest.skip("needs numba and MKL's direct product")
    if loop == "compiled" and reservoir_batch._finish is None:
        pytest.skip("needs numba")
    if loop != "mkl":
        monkeypatch.setattr(reservoir_batch, "_direct_product", lambda weight: None)
    if loop == "torch-ops":
        monkeypatch.setattr(reservoir_batch, "_finish", None)
    monkeypatch.setattr(reservoir_batch, "CHUNK", 4)
    monkeypatch.setattr(reservoir_batch, "chunk_threads", lambda batch, weight, threads: workers)
    c = cell(size, leak=leak)
    x = torch.randn(23, 13, 3, dtype=F64)
    lengths = torch.tensor([13, 0, 7, 1, 13, 5, 9, 12, 2, 0, 6, 11, 13, 3, 8, 4, 10, 7, 7, 1, 12, 5, 13])
    h0 = torch.zeros(23, size, dtype=F64) if from_rest else torch.randn(23, size, dtype=F64) * 0.2
    y, (h,) = Recurrent(c)(x, (h0,), lengths)
    assert calls == [23]
    y_ref, h_ref = one_at_a_time(c, x, h0, lengths)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(h, h_ref, **TOL)
    assert (y[lengths == 0] == 0).all()


@pytest.mark.parametrize("loop", ["mkl", "compiled"])
def test_batched_float32_states(loop: str, calls: list[int], monkeypatch) -> None:
    """float32 through both compiled loops (MKL's single-precision product and sgemm), against the
    float64 reference within float32's precision."""
    if (loop == "mkl" and not direct()) or reservoir_batch._finish is None:
        pytest.skip("needs numba and MKL's direct product")
    if loop == "compiled":
        monkeypatch.setattr(reservoir_batch, "_direct_product", lambda weight: None)
    monkeypatch.setattr(reservoir_batch, "CHUNK", 8)
    c = cell(200)
    x = torch.randn(20, 11, 3, dtype=F64)
    lengths = torch.randint(1, 12, (20,))
    y, (h,) = Recurrent(c.to(torch.float32))(x.float(), lengths=lengths)
    assert calls == [20] and y.dtype == torch.float32
    y_ref, h_ref = one_at_a_time(c.double(), x, x.new_zeros(20, 200), lengths)
    torch.testing.assert_close(y.double(), y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h.double(), h_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mkl_product_called_directly_reads_and_writes_through_leading_dimensions(dtype) -> None:
    """`_mkl_sparse.multiply` (what the compiled loop calls per step): c = W b + beta c on the first
    columns of wider arrays, the rest untouched."""
    mm = _mkl_sparse.mm_function(reservoir_batch.NUMPY[dtype])
    if mm is None:
        pytest.skip("no direct MKL product here")
    w = torch.randn(30, 20, dtype=F64) * (torch.rand(30, 20) < 0.2)
    csr = _mkl_sparse.int32_csr(w.to(dtype))
    b, c = torch.randn(20, 9, dtype=dtype), torch.randn(30, 9, dtype=dtype)
    expected = c.clone()
    expected[:, :5] = w.to(dtype) @ b[:, :5] + 0.5 * c[:, :5]
    with _mkl_sparse.Handle(csr) as handle:
        assert _mkl_sparse.multiply(mm, handle.value, b.numpy()[:, :5], c.numpy()[:, :5], beta=0.5) == 0
    assert handle.value == 0                                            # destroyed on exit
    tol = {"atol": 1e-12, "rtol": 0.0} if dtype == F64 else {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(c, expected, **tol)


def test_mkl_runs_on_the_threads_asked_for_in_a_thread_that_ran_no_torch_op() -> None:
    """`_mkl_sparse.threads_here`: a chunk thread's MKL calls run on the count it gives (one, under
    two torch threads), and on MKL's own count again after it."""
    lib = _mkl_sparse._library()
    if lib is None or not hasattr(lib, "MKL_Get_Max_Threads"):
        pytest.skip("no MKL service functions here")
    seen: list[int] = []

    def inside() -> None:
        with _mkl_sparse.threads_here(1):
            seen.append(lib.MKL_Get_Max_Threads())
        seen.append(lib.MKL_Get_Max_Threads())

    def outside() -> None:
        seen.append(lib.MKL_Get_Max_Threads())

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for target in (inside, outside):
            thread = threading.Thread(target=target)
            thread.start()
            thread.join()
    finally:
        torch.set_num_threads(previous)
    assert seen[0] == 1 and seen[1] == seen[2]


def test_no_direct_mkl_product_where_the_library_or_the_check_fails(monkeypatch) -> None:
    """No library (another machine or torch build), or a library whose product fails the first-use
    check: mm_function is None and the batched loop stays in Python."""
    monkeypatch.setattr(_mkl_sparse, "_CACHE", {})
    monkeypatch.setattr(_mkl_sparse, "_library", lambda: None)
    assert _mkl_sparse.mm_function(torch.empty(0, dtype=F64).numpy().dtype) is None
    monkeypatch.undo()
    monkeypatch.setattr(_mkl_sparse, "_CACHE", {})
    monkeypatch.setattr(_mkl_sparse, "_works", lambda dtype: False)
    assert _mkl_sparse.mm_function(torch.empty(0, dtype=F64).numpy().dtype) is None
    assert reservoir_batch._direct_product(_recurrent_matrix(cell(40))) is None


def test_the_kernel_backend_decides_whether_the_batched_loop_is_compiled(monkeypatch, capsys) -> None:
    """RNNKIT_KERNELS=python (`backend.using`) runs the torch ops, and a compiled loop that fails its
    first try falls back to them after one line on stderr, with the same states."""
    if reservoir_batch._finish is None:
        pytest.skip("needs numba")
    ran: list[str] = []
    steps, finish = reservoir_batch._chunks, reservoir_batch._finish
    monkeypatch.setattr(reservoir_batch, "_chunks", lambda *a: ran.append("steps") or steps(*a))
    monkeypatch.setattr(reservoir_batch, "_finish", lambda *a: ran.append("finish") or finish(*a))
    c = cell(40)
    x, lengths = torch.randn(10, 6, 3, dtype=F64), torch.tensor([6, 2, 5, 6, 1, 3, 4, 6, 2, 5])
    expected, _ = one_at_a_time(c, x, x.new_zeros(10, 40), lengths)
    monkeypatch.setattr(backend, "_tried", {})
    monkeypatch.setattr(backend, "_failed", [])
    with backend.using("python"):
        torch.testing.assert_close(Recurrent(c)(x, lengths=lengths)[0], expected, **TOL)
    assert ran == []
    torch.testing.assert_close(Recurrent(c)(x, lengths=lengths)[0], expected, **TOL)
    assert ran and capsys.readouterr().err.count("\n") <= 2                   # at most the compile notices

    def broken(*args):
        raise RuntimeError("no LLVM target for this machine")

    monkeypatch.setattr(backend, "_tried", {})
    monkeypatch.setattr(reservoir_batch, "_chunks", broken)
    monkeypatch.setattr(reservoir_batch, "_finish", broken)
    torch.testing.assert_close(Recurrent(c)(x, lengths=lengths)[0], expected, **TOL)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unavailable (RuntimeError: no LLVM target" in err


def test_equal_lengths_and_stacked_layers(calls: list[int]) -> None:
    """No lengths (every sequence T long), and a deep ESN whose second layer reads 30 features."""
    x = torch.randn(9, 20, 3, dtype=F64)
    c = cell(30)
    y, (h,) = Recurrent(c)(x)
    y_ref, h_ref = one_at_a_time(c, x, torch.zeros(9, 30, dtype=F64), torch.full((9,), 20))
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(h, h_ref, **TOL)
    second = cell(25, inputs=30)
    torch.testing.assert_close(Recurrent(second)(y)[0], Cell.reference_scan(second, y, (y.new_zeros(9, 25),))[0],
                               **TOL)
    assert calls == [9, 9]


def test_when_the_batched_loop_does_not_run(calls: list[int]) -> None:
    """A dense reservoir, a batch below _BATCH_FROM, or a mask with holes (not a `lengths` mask) keep
    the other loops, which still equal the reference."""
    x = torch.randn(10, 8, 3, dtype=F64)
    h0 = (x.new_zeros(10, 40),)
    holes = torch.rand(10, 8) < 0.7
    for c, xs, mask in [(cell(40, density=1.0), x, None), (cell(40), x[:3], None), (cell(40), x, holes)]:
        state = (h0[0][:xs.size(0)],)
        torch.testing.assert_close(c.scan(xs, state, mask)[0], Cell.reference_scan(c, xs, state, mask)[0], **TOL)
    assert calls == []


@pytest.mark.parametrize("size,dtype", [(300, F64), (1200, F64), (300, torch.float32)])
@pytest.mark.parametrize("length", [None, 17])
def test_one_sparse_stream_runs_the_compiled_mat_vec(size: int, dtype: torch.dtype, length: int | None,
                                                     monkeypatch) -> None:
    pytest.importorskip("numba")
    streamed: list[int] = []
    run = reservoir_loop.stream_states
    monkeypatch.setattr(reservoir_loop, "stream_states", lambda *a: streamed.append(a[-1]) or run(*a))
    c = cell(size).to(dtype)
    x = torch.randn(1, 30, 3, dtype=dtype)
    h0 = torch.randn(1, size, dtype=dtype) * 0.2
    lengths = None if length is None else torch.tensor([length])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # above _ONE_THREAD_UP_TO only a one-thread torch streams
    try:
        y, (h,) = Recurrent(c)(x, (h0,), lengths)
    finally:
        torch.set_num_threads(threads)
    assert streamed == [30 if length is None else length]
    y_ref, h_ref = one_at_a_time(c, x, h0, torch.tensor([length or 30]))
    tol = TOL if dtype == F64 else {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(h, h_ref, **tol)


def sequences(count: int = 40) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two classes, slow and fast sines of random phase, 12 to 25 steps."""
    t = torch.arange(25, dtype=F64)
    labels = torch.arange(count) % 2
    x = torch.stack([torch.sin(t * (0.3 + 0.5 * int(k)) + float(p)) for k, p in zip(labels, torch.rand(count) * 6)])
    return x[:, :, None], labels, torch.randint(12, 26, (count,))


def test_classifier_pools_the_batched_states(calls: list[int]) -> None:
    x, labels, lengths = sequences()
    c = cell(60, inputs=1)
    clf = EchoStateClassifier(Recurrent(c), 2, pool="mean_last").fit(x, labels, lengths=lengths)
    assert calls == [40]
    states, _ = one_at_a_time(c, x * (torch.arange(25)[None, :] < lengths[:, None])[:, :, None], x.new_zeros(40, 60),
                              lengths)
    mean = states.sum(1) / lengths[:, None]
    last = states[torch.arange(40), lengths - 1]
    torch.testing.assert_close(clf.pooled(x, lengths), torch.cat([mean, last], 1), **TOL)
    assert (clf(x, lengths=lengths)[0].argmax(1) == labels).double().mean() > 0.9


@dataclass
class Classify:
    """The part of a classification task that fit_ridge uses."""

    alpha: float = 1e-2
    washout: int = 0
    carries_state: bool = False

    def loss(self, model, batch, state):                    # pragma: no cover - ridge fits need no loss
        raise NotImplementedError

    def evaluate(self, model, batches) -> dict[str, float]:
        right = [(model(b.inputs, lengths=b.lengths)[0].argmax(1) == b.targets).double() for b in batches]
        return {"accuracy": float(torch.cat(right).mean())}


def test_ridge_training_runs_batches_of_sequences(calls: list[int], capsys) -> None:
    """fit_ridge feeds each batch of train.batch_size sequences to the batched loop, and so does
    EchoStateNetwork.accumulate on several series."""
    x, labels, lengths = sequences(48)
    data = Splits(Batch(x[:32], labels[:32], lengths[:32]), Batch(x[32:], labels[32:], lengths[32:]))
    clf = EchoStateClassifier(Recurrent(cell(60, inputs=1)), 2, pool="mean_last")
    metrics = fit_ridge(clf, Classify(), data, SimpleNamespace(train=SimpleNamespace(batch_size=16, plots=False)))
    assert calls == [16, 16, 16] and metrics["accuracy"] > 0.8
    calls.clear()
    esn = EchoStateNetwork(Recurrent(cell(60, inputs=1)), 1)
    esn.fit(x[:8, :-1], x[:8, 1:], washout=3)
    assert calls == [8]
    capsys.readouterr()


def test_ridge_bias_from_sums_equals_the_augmented_system() -> None:
    """Ridge.update adds the bias column's products as sums; the normal equations equal those of
    the data with a column of ones."""
    from rnnkit.models.ridge import Ridge
    x, y = torch.randn(50, 7, dtype=F64), torch.randn(50, 2, dtype=F64)
    ridge = Ridge(7, 2)
    ridge.update(x[:20], y[:20])
    ridge.update(x[20:], y[20:])
    a = F.pad(x, (0, 1), value=1.0)
    torch.testing.assert_close(ridge.xtx, a.t() @ a, **TOL)
    torch.testing.assert_close(ridge.xty, a.t() @ y, **TOL)


def test_benchmark_batch_quick_runs_and_agrees_with_reservoirpy(monkeypatch, capsys) -> None:
    pytest.importorskip("reservoirpy")
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "esn.py"
    monkeypatch.syspath_prepend(str(script.parent))
    spec = importlib.util.spec_from_file_location("esn_benchmark", script)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)
    spec.loader.exec_module(bench)
    rows = bench.main(["batch", "--quick"])
    printed = capsys.readouterr().out
    names = [r["contender"] for r in rows]
    assert names[0].startswith("reservoirpy") and "rnnkit batched, 1 thread" in names
    assert "rnnkit one sequence at a time" in names
    for r in rows:
        assert r["max_abs_diff"] <= 1e-10 and r["ms"] > 0 and f"| {r['contender']} |" in printed
