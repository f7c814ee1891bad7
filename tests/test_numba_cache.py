"""The compiled loops' numba cache is dropped when any kernel source changes (kernels/_numba_cache.py):
numba itself checks only the cached function's own file, not the helpers compiled into it."""

from __future__ import annotations

from pathlib import Path

from rnnkit.kernels._numba_cache import STAMP, clear_if_stale, sources_digest


def test_the_cache_goes_when_a_source_changes_and_stays_otherwise(tmp_path: Path):
    (tmp_path / "loop.py").write_text("def loop(): return helper()\n")
    (tmp_path / "helper.py").write_text("def helper(): return 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    for name in ("loop.loop-1.py311.nbi", "loop.loop-1.py311.1.nbc", "loop.cpython-311.pyc"):
        (cache / name).write_text("x")
    assert clear_if_stale(tmp_path)                              # no stamp: a cache of unknown sources
    assert sorted(p.name for p in cache.iterdir()) == sorted(["loop.cpython-311.pyc", STAMP])
    assert (cache / STAMP).read_text() == sources_digest(tmp_path)
    (cache / "loop.loop-1.py311.nbi").write_text("compiled from these sources")
    assert not clear_if_stale(tmp_path) and (cache / "loop.loop-1.py311.nbi").exists()
    (tmp_path / "helper.py").write_text("def helper(): return 2\n")   # only the helper's file changes
    assert clear_if_stale(tmp_path) and not (cache / "loop.loop-1.py311.nbi").exists()
    assert not clear_if_stale(tmp_path)


def test_a_read_only_package_is_left_alone(tmp_path: Path):
    (tmp_path / "loop.py").write_text("x = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (cache / "loop.f-1.py311.nbi").write_text("x")
    cache.chmod(0o555)
    try:
        clear_if_stale(tmp_path)                                     # no error; root may still write here
    finally:
        cache.chmod(0o755)


def test_the_package_has_a_stamp_after_import():
    import rnnkit.kernels

    folder = Path(rnnkit.kernels.__file__).parent
    stamp = folder / "__pycache__" / STAMP
    assert stamp.read_text() == sources_digest(folder)
