"""Shared test set-up: fixed seeds, float64 for numerical comparisons."""

from __future__ import annotations

import math

import pytest
import torch

# Tests run tiny tensors: on 2 cores, OpenMP's second thread only adds barrier waits, and when
# another process holds a core those waits make tiny ops 10-100x slower (perf-notes, Method).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def assert_close(actual, expected, *, atol: float = 1e-10, rtol: float = 1e-10) -> None:
    """Nested tuples of tensors are equal to within float64 round-off."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_close(a, e, atol=atol, rtol=rtol)
        return
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol)


@pytest.fixture
def without_data(monkeypatch, tmp_path):
    """The training data made unavailable: an empty dataset cache, and every task's `load` raising.
    A saved run must load and predict from its run directory alone."""
    from rnnkit.tasks import TASKS

    empty = tmp_path / "empty-cache"
    empty.mkdir()
    monkeypatch.setenv("RNNKIT_CACHE", str(empty))

    def refuse(self):
        raise AssertionError(f"{type(self).__name__}.load() was called: loading a run must not read its data")

    for cls in TASKS.values():
        monkeypatch.setattr(cls, "load", refuse)
    return empty


def write_ramps(root, count: int = 12, seed: int = 0, steps: tuple[int, int] = (10, 24)):
    """root/<label>/<i>.csv: two features, steps[0] to steps[1] steps, drifting from a random start in
    one of three directions 120 degrees apart (the class; not ordered along a line, where a
    least-squares classifier would mask the middle class), plus noise."""
    g = torch.Generator().manual_seed(seed)
    for label, angle in (("east", 0.0), ("northwest", 2.1), ("southwest", 4.2)):
        (root / label).mkdir(parents=True)
        direction = torch.tensor([math.cos(angle), math.sin(angle)])
        for i in range(count):
            t = torch.linspace(0, 1, int(torch.randint(steps[0], steps[1] + 1, (1,), generator=g)))[:, None]
            x = 2 * t * direction + 0.3 * torch.randn(2, generator=g) + 0.1 * torch.randn(len(t), 2, generator=g)
            rows = "\n".join(",".join(f"{v:.5f}" for v in row) for row in x.tolist())
            (root / label / f"{i}.csv").write_text("a,b\n" + rows + "\n")
    return root


@pytest.fixture(params=["native", "python"])
def kernel_backend(request):
    """Runs a test under each CPU backend of the BPTT loops (rnnkit.kernels.backend)."""
    from rnnkit.kernels.backend import using

    with using(request.param):
        yield request.param


@pytest.fixture(params=["one", "team"])
def teams(request, monkeypatch):
    """The native loops' row passes on the calling thread ("one") or split over a team of two of
    torch's OpenMP threads at every size ("team"; `kernels._teams`), skipped where torch has no libgomp."""
    from rnnkit.kernels import _teams

    if request.param == "one":
        monkeypatch.setattr(_teams, "pool", lambda: None)
        yield 1
        return
    if _teams.pool() is None:
        pytest.skip("torch here has no libgomp")
    before = torch.get_num_threads()
    monkeypatch.setattr(_teams, "MIN_ROW_WORK", 0)
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.fixture(params=["torch", "scipy"])
def blas(request, monkeypatch):
    """Each BLAS the native loops can call (torch's own, scipy's); skipped where it is not exported."""
    from rnnkit.kernels import _blas

    try:
        _blas.gemm_function(torch.empty(0).numpy().dtype, request.param)
    except RuntimeError:
        pytest.skip(f"no {request.param} BLAS here")
    monkeypatch.setattr(_blas, "SOURCES", (request.param,))
    return request.param
