"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT): 60,000 training and 10,000 test images of
28 x 28 pixels in 10 classes, read as 28-step sequences of 28-pixel rows.

    (train_x, train_y), (test_x, test_y) = load_fashion_mnist()     # (N, 28, 28) in [0, 1], (N,)

The four idx files come from Debian's `dataset-fashion-mnist` package, downloaded once with
`apt-get download` (pinned version and sha256; see `data.fetch`) and unpacked into the rnnkit
cache, or are read from `root` if given (e.g. /usr/share/datasets/fashion-mnist after
`apt-get install dataset-fashion-mnist`).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import torch
from torch import Tensor

from .fetch import fetch

PACKAGE, VERSION = "dataset-fashion-mnist", "0.0~git20200523.55506a9-1"     # Debian bookworm
SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
FOLDER = "usr/share/datasets/fashion-mnist"
FILES = [f"{s}-{kind}-idx{d}-ubyte.gz" for s in ("train", "t10k") for kind, d in (("images", 3), ("labels", 1))]


def load_fashion_mnist(root: str | Path | None = None) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """((train images (60000, 28, 28) float in [0, 1], labels (60000,)), (test ...))."""
    if root is None:
        paths = fetch(PACKAGE, VERSION, SHA256, [f"{FOLDER}/{f}" for f in FILES], source="debian",
                      alternative=f"install the package (apt-get install {PACKAGE}) and set "
                                  f"task.path = \"fashion_mnist:/{FOLDER}\"")
    else:
        paths = [Path(root) / f for f in FILES]
        for path in paths:
            if not path.is_file():
                raise ValueError(f"{path} is missing: {root} should hold {', '.join(FILES)} (Debian package "
                                 f"{PACKAGE}, in /{FOLDER}); or set task.path = \"fashion_mnist\" to fetch them")
    train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
    return (train_x.float() / 255, train_y.long()), (test_x.float() / 255, test_y.long())


def read_idx(path: Path) -> Tensor:
    """An idx file (LeCun's MNIST format, gzipped): magic 0 0 type ndim, ndim big-endian sizes,
    then uint8 data."""
    data = gzip.open(path).read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return torch.frombuffer(bytearray(data[4 + 4 * len(dims):]), dtype=torch.uint8).view(*dims)
