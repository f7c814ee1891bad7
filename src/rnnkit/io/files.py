"""Atomic file writes: a temporary file in the same directory, flushed, then renamed over the
target (os.replace), so a killed process leaves the old file or the new one, never half of one.
Several files that belong together (a checkpoint's weights and its training state) are all written
first and renamed only when every one is complete, so a full disk leaves the old set whole."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

Writer = Callable[[Path], None]


def atomic_write(path: str | Path, write: Writer) -> None:
    """Calls write(temporary path), flushes it to disk, then renames it over `path`."""
    atomic_write_all([(path, write)])


def atomic_write_all(writes: Sequence[tuple[str | Path, Writer]]) -> None:
    """atomic_write for several files: each written to its temporary and flushed, then all renamed.
    A failed write (an OSError, or the RuntimeError torch's zip writer raises on a short write,
    "unexpected pos ...") becomes an OSError naming the file and the free space, and renames nothing."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, write in writes:
            path = Path(path)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temps.append((tmp, path))
            try:
                write(tmp)
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
            except (OSError, RuntimeError) as error:
                raise _write_error(path, error) from None
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def _write_error(path: Path, error: Exception) -> OSError:
    """An OSError for a failed write of `path`, with the disk's free space when it is nearly full."""
    if isinstance(error, OSError) and error.errno not in (None, errno.EIO, errno.ENOSPC):
        return error if error.filename else OSError(error.errno, error.strerror or str(error), str(path))
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = -1
    full = isinstance(error, OSError) and error.errno == errno.ENOSPC or 0 <= free < 64 * 2**20
    reason = "No space left on device" if full else f"write failed ({str(error).splitlines()[0] if str(error) else ''})"
    return OSError(errno.ENOSPC if full else errno.EIO, f"{reason}; {max(free, 0) / 2**20:.0f} MiB free there",
                   str(path))
