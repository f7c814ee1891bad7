"""The linear-chain CRF against brute-force enumeration of every tag sequence on tiny cases."""

from __future__ import annotations

import doctest
import itertools

import pytest
import torch

import rnnkit.models.crf as crf_module
from conftest import assert_close
from rnnkit.models.crf import CRF, bio_constraints

T = 3
LENGTHS = torch.tensor([4, 1, 3, 2])


def _tiny(constrained: bool = False) -> tuple[CRF, torch.Tensor]:
    allowed = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.bool) if constrained else None
    first = torch.tensor([True, True, False]) if constrained else None
    last = torch.tensor([True, False, True]) if constrained else None
    crf = CRF(T, allowed=allowed, allowed_start=first, allowed_end=last).double()
    with torch.no_grad():                              # larger than the init, so the paths differ clearly
        for p in crf.parameters():
            p.normal_()
    return crf, torch.randn(len(LENGTHS), int(LENGTHS.max()), T, dtype=torch.float64)


def _paths(crf: CRF, n: int, *, allowed_only: bool = False) -> list[tuple[int, ...]]:
    paths = list(itertools.product(range(T), repeat=n))
    if allowed_only:
        paths = [y for y in paths if crf.allowed_start[y[0]] and crf.allowed_end[y[-1]]
                 and all(crf.allowed[a, b] for a, b in zip(y, y[1:]))]
    return paths


def _brute_score(crf: CRF, emissions: torch.Tensor, y: tuple[int, ...]) -> torch.Tensor:
    """s(y) for one row, written straight from the definition."""
    start, transitions, end = crf.scores()
    s = start[y[0]] + end[y[-1]] + sum(emissions[t, tag] for t, tag in enumerate(y))
    return s + sum((transitions[a, b] for a, b in zip(y, y[1:])), torch.zeros((), dtype=emissions.dtype))


def test_log_partition_and_likelihood_equal_enumeration():
    crf, emissions = _tiny()
    tags = torch.randint(0, T, emissions.shape[:2])
    log_z, ll = crf.log_partition(emissions, LENGTHS), crf.log_likelihood(emissions, tags, LENGTHS)
    for b, n in enumerate(LENGTHS.tolist()):
        every = torch.stack([_brute_score(crf, emissions[b], y) for y in _paths(crf, n)])
        assert_close(log_z[b], torch.logsumexp(every, 0))
        gold = tuple(tags[b, :n].tolist())
        assert_close(ll[b], _brute_score(crf, emissions[b], gold) - torch.logsumexp(every, 0))


@pytest.mark.parametrize("constrained", [False, True])
def test_viterbi_equals_brute_force_argmax(constrained):
    crf, emissions = _tiny(constrained)
    paths, scores = crf.viterbi(emissions, LENGTHS)
    decoded = crf.decode(emissions, LENGTHS)
    for b, n in enumerate(LENGTHS.tolist()):
        candidates = _paths(crf, n, allowed_only=constrained)
        every = [_brute_score(crf, emissions[b], y) for y in candidates]
        best = max(range(len(candidates)), key=lambda i: every[i])
        assert decoded[b] == list(candidates[best]) == paths[b, :n].tolist()
        assert (paths[b, n:] == -1).all()
        assert_close(scores[b], every[best])


def test_viterbi_never_takes_a_disallowed_transition_even_against_strong_emissions():
    crf, _ = _tiny(constrained=True)
    emissions = 1e5 * torch.randn(16, 6, T, dtype=torch.float64)   # scores far beyond the finite NEG
    for path in crf.decode(emissions, torch.full((16,), 6)):
        assert crf.allowed_start[path[0]] and crf.allowed_end[path[-1]]
        assert all(crf.allowed[a, b] for a, b in zip(path, path[1:]))


@pytest.mark.parametrize("constrained", [False, True])
def test_marginals_equal_enumeration_and_sum_to_one(constrained):
    crf, emissions = _tiny(constrained)
    marginals = crf.marginals(emissions, LENGTHS)
    for b, n in enumerate(LENGTHS.tolist()):
        candidates = _paths(crf, n)
        probs = torch.softmax(torch.stack([_brute_score(crf, emissions[b], y) for y in candidates]), 0)
        expected = torch.zeros(n, T, dtype=torch.float64)
        for y, p in zip(candidates, probs):
            expected[range(n), list(y)] += p
        assert_close(marginals[b, :n], expected)
        assert_close(marginals[b, :n].sum(1), torch.ones(n, dtype=torch.float64))
        assert (marginals[b, n:] == 0).all()


def test_marginals_are_the_gradient_of_log_partition():
    """d log Z / d emissions[t, i] = p(y_t = i | x): a second, independent check of forward-backward."""
    crf, emissions = _tiny()
    emissions.requires_grad_()
    (grad,) = torch.autograd.grad(crf.log_partition(emissions, LENGTHS).sum(), emissions)
    assert_close(crf.marginals(emissions, LENGTHS), grad)


@pytest.mark.parametrize("constrained", [False, True])
def test_gradcheck_of_negative_log_likelihood(constrained):
    crf, emissions = _tiny(constrained)
    emissions.requires_grad_()
    tags = torch.randint(0, T, emissions.shape[:2])
    names = ["transitions", "start", "end"]

    def nll(emissions, *params):
        out = torch.func.functional_call(crf, dict(zip(names, params)), (emissions, tags, LENGTHS))
        return -out

    params = tuple(getattr(crf, n).detach().clone().requires_grad_() for n in names)
    assert torch.autograd.gradcheck(nll, (emissions, *params))


def test_padding_with_arbitrary_emissions_and_tags_changes_nothing():
    crf, emissions = _tiny(constrained=True)
    tags = torch.randint(0, T, emissions.shape[:2])
    garbage = torch.full((len(LENGTHS), 3, T), float("nan"), dtype=torch.float64)
    padded = torch.cat([emissions, garbage], dim=1)
    padded_tags = torch.cat([tags, torch.full((len(LENGTHS), 3), -100)], dim=1)
    assert_close(crf.log_likelihood(padded, padded_tags, LENGTHS), crf.log_likelihood(emissions, tags, LENGTHS))
    assert crf.decode(padded, LENGTHS) == crf.decode(emissions, LENGTHS)
    assert_close(crf.marginals(padded, LENGTHS)[:, :4], crf.marginals(emissions, LENGTHS))
    # a row alone, cut to its length, gives what it gave in the batch
    assert_close(crf.log_partition(emissions[2:3, :3], LENGTHS[2:3]), crf.log_partition(padded, LENGTHS)[2:3])


def test_float32_agrees_with_float64():
    crf, emissions = _tiny(constrained=True)
    tags = torch.randint(0, T, emissions.shape[:2])
    single = CRF(T, allowed=crf.allowed, allowed_start=crf.allowed_start, allowed_end=crf.allowed_end)
    single.load_state_dict(crf.state_dict())
    assert_close(single.log_likelihood(emissions.float(), tags, LENGTHS),
                 crf.log_likelihood(emissions, tags, LENGTHS).float(), atol=1e-5, rtol=1e-5)
    assert single.decode(emissions.float(), LENGTHS) == crf.decode(emissions, LENGTHS)


def test_bio_constraints():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    c = bio_constraints(tags)
    forbidden = {(i, j) for i in range(5) for j in range(5) if not c.allowed[i, j]}
    # I-PER only after B-PER or I-PER, I-LOC only after B-LOC or I-LOC
    assert forbidden == {(0, 2), (3, 2), (4, 2), (0, 4), (1, 4), (2, 4)}
    assert c.allowed_start.tolist() == [True, True, False, True, False]
    assert c.allowed_end.all()


def test_bioes_constraints():
    tags = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"]
    c = bio_constraints(tags)
    allowed = {(tags[i], tags[j]) for i in range(7) for j in range(7) if c.allowed[i, j]}
    closed, begin = ["O", "E-X", "S-X", "E-Y"], ["O", "B-X", "S-X", "B-Y"]
    expected = {(a, b) for a in closed for b in begin}
    expected |= {(a, b) for a in ["B-X", "I-X"] for b in ["I-X", "E-X"]} | {("B-Y", "E-Y")}
    assert allowed == expected
    assert [t for t, ok in zip(tags, c.allowed_start) if ok] == begin
    assert [t for t, ok in zip(tags, c.allowed_end) if ok] == closed


def test_bad_tags_and_lengths_are_refused():
    with pytest.raises(ValueError, match="is not a tag of BIOES"):
        bio_constraints(["O", "PER"])
    crf, emissions = _tiny()
    with pytest.raises(ValueError, match="lengths"):
        crf.log_partition(emissions, torch.tensor([4, 0, 3, 2]))


def test_doctests():
    assert doctest.testmod(crf_module).failed == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    crf, emissions = _tiny(constrained=True)
    tags = torch.randint(0, T, emissions.shape[:2])
    cuda = CRF(T, allowed=crf.allowed, allowed_start=crf.allowed_start, allowed_end=crf.allowed_end).double()
    cuda.load_state_dict(crf.state_dict())
    cuda = cuda.cuda()
    assert_close(cuda.log_likelihood(emissions.cuda(), tags.cuda(), LENGTHS).cpu(),
                 crf.log_likelihood(emissions, tags, LENGTHS))
    assert_close(cuda.marginals(emissions.cuda(), LENGTHS).cpu(), crf.marginals(emissions, LENGTHS))
    assert cuda.decode(emissions.cuda(), LENGTHS) == crf.decode(emissions, LENGTHS)
