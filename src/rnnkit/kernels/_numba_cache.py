"""numba's on-disk cache of the compiled loops, dropped when any kernel source changes.

numba keys a cached function on its own source file's modification time and size (numba's
documentation, "Notes on caching": "changes to other functions called from the cached function
are not seen"). The loops call compiled helpers from other files (`_blas.gemm`, `_fastmath.tanh`,
`_native_common.carry_row`, `lstm_ln_rows`), and those are compiled into the caller's machine
code: after an edit of a helper, a loop whose own file did not change would go on running the
old helper from `__pycache__` (noticed during development, where the caches had to be cleared by
hand after such edits). So the cache files are removed whenever the kernels' sources are
not the ones the cache was built from: a SHA-256 over every `.py` file of this package, kept in
`__pycache__/rnnkit-kernels.sha256`. A fresh install or an upgrade costs the one first-use compile
it costs anyway; an edit costs one more.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STAMP = "rnnkit-kernels.sha256"
SUFFIXES = (".nbi", ".nbc")             # numba's index and compiled-code files


def sources_digest(folder: Path) -> str:
    """SHA-256 over the names and contents of the folder's .py files, in name order."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def clear_if_stale(folder: Path | None = None) -> bool:
    """Removes folder/__pycache__'s numba files when the sources changed since they were written;
    True if it removed any. A read-only install (numba then caches elsewhere) is left as it is."""
    folder = Path(__file__).parent if folder is None else folder
    cache = folder / "__pycache__"
    digest = sources_digest(folder)
    stamp = cache / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass                                        # no stamp yet: a fresh cache, or one from before this check
    removed = False
    try:
        for path in cache.glob("*"):
            if path.suffix in SUFFIXES:
                path.unlink(missing_ok=True)
                removed = True
        cache.mkdir(exist_ok=True)
        tmp = cache / f"{STAMP}.{os.getpid()}"
        tmp.write_text(digest)
        tmp.replace(stamp)                          # atomic: a process started meanwhile reads one or the other
    except OSError:
        pass                                        # read-only: numba uses its user-wide cache directory there
    return removed
