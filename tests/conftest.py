"""Shared test set-up: fixed seeds, float64 for numerical comparisons."""

from __future__ import annotations

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
