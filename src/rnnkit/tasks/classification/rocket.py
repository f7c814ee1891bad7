"""MiniRocket + ridge (Dempster et al. 2021, "MINIROCKET: A Very Fast (Almost) Deterministic
Transform for Time Series Classification") as a model a run keeps and reads back: the baseline
`minirocket_ridge` of baselines.py, fitted once and saved as numbers (RUN_DIR/rocket.safetensors),
so that a run whose folds kept it predicts with it after `rnnkit.load`.

aeon's MiniRocketClassifier is a pipeline of three fitted parts, and each is a few arrays:
MiniRocket's `parameters` (five int32/float32 arrays: channels per combination, channel indices,
dilations, features per dilation, biases), the StandardScaler's `scale_` (features divided by their
standard deviation, no centring) and the RidgeClassifierCV's `coef_`, `intercept_` and `classes_`.
A fitted transform is rebuilt from its parameters (tested equal to the one fitted, univariate and
multivariate), and the ridge's decision is one product. It reads sequences as the network does:
standardised with the training split's per-feature mean and std (kept with it), as (C, T_i) arrays
cut or padded to `length` (baselines.fixed_length).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...data.batch import Batch
from ...io.arrays import load_arrays, save_arrays
from .baselines import INSTALL, MINIROCKET_MIN_LENGTH, examples, fixed_length

ROCKET, ROCKET_FILE = "minirocket_ridge", "rocket.safetensors"     # its name (as a baseline's) and its file


@dataclass(frozen=True)
class RocketRidge:
    """A fitted MiniRocket + ridge classifier, as arrays."""

    parameters: tuple[np.ndarray, ...]      # MiniRocket's fitted kernels (aeon's `parameters`)
    num_channels: int
    length: int                             # every sequence is cut or padded to this many steps
    scale: np.ndarray                       # (F,) the features' standard deviations
    coef: np.ndarray                        # (K, F), K = 1 for two classes
    intercept: np.ndarray                   # (K,)
    classes: np.ndarray                     # (C,) class ids in the ridge's order
    mean: np.ndarray | None = None          # (C,) the standardisation it reads sequences with
    std: np.ndarray | None = None

    @classmethod
    def fit_batch(cls, train: Batch, *, mean: Sequence[float] | None, std: Sequence[float] | None,
                  seed: int) -> RocketRidge:
        """Fitted on a split's sequences standardised with `mean` and `std` (None: as they are)."""
        x, y = examples(train, mean, std)
        rocket = cls.fit(x, y.numpy(), seed=seed)
        if mean is None or std is None:
            return rocket
        return dataclasses.replace(rocket, mean=np.asarray(mean, dtype=np.float64), std=np.asarray(std, np.float64))

    def predict_batch(self, part: Batch) -> Tensor:
        """(N,) class ids of a split's sequences."""
        return torch.from_numpy(self.predict(examples(part, self.mean, self.std)[0]).astype(np.int64))

    def predict_sequences(self, series: Sequence[Tensor]) -> Tensor:
        """(N,) class ids of raw (T_i, C) sequences."""
        x = [s.double().numpy() for s in series]
        if self.mean is not None and self.std is not None:
            x = [(s - self.mean) / self.std for s in x]
        return torch.from_numpy(self.predict([np.ascontiguousarray(s.T) for s in x]).astype(np.int64))

    @classmethod
    def fit(cls, x: list[np.ndarray], y: np.ndarray, *, seed: int) -> RocketRidge:
        """Fitted on x: (C, T_i) float64 arrays, y: (N,) class ids, as the baseline is."""
        try:
            from aeon.classification.convolution_based import MiniRocketClassifier
        except ImportError as error:
            raise ImportError(f"MiniRocket needs aeon: {INSTALL} ({error})") from error
        length = max(MINIROCKET_MIN_LENGTH, max(s.shape[1] for s in x))
        with torch_threads_kept():
            fitted = MiniRocketClassifier(random_state=seed).fit(fixed_length(x, length), np.asarray(y))
        ridge = fitted.estimator_
        return cls(tuple(np.asarray(p).copy() for p in fitted._transformer.parameters), x[0].shape[0], length,
                   fitted._scaler.scale_.copy(), np.atleast_2d(ridge.coef_).copy(),
                   np.atleast_1d(ridge.intercept_).copy(), np.asarray(ridge.classes_).copy())

    def features(self, x: list[np.ndarray]) -> np.ndarray:
        """(N, F) MiniRocket features of x, scaled as the ridge read them."""
        from aeon.transformations.collection.convolution_based import MiniRocket  # deferred: aeon is heavy

        transform = MiniRocket()
        transform.parameters, transform.n_kernels_, transform._n_jobs = self.parameters, len(self.parameters[-1]), 1
        transform.metadata_ = {"multivariate": self.num_channels > 1, "missing_values": False,
                               "unequal_length": False, "n_cases": len(x), "n_channels": self.num_channels,
                               "n_timepoints": self.length}
        transform.is_fitted = True
        with torch_threads_kept():
            features = transform.transform(fixed_length(x, self.length))
        return np.asarray(features, dtype=np.float64) / self.scale

    def decision(self, x: list[np.ndarray]) -> np.ndarray:
        """(N, K) the ridge's decision values (K = 1: positive means the second class)."""
        return self.features(x) @ self.coef.T + self.intercept

    def predict(self, x: list[np.ndarray]) -> np.ndarray:
        """(N,) class ids."""
        d = self.decision(x)
        index = (d[:, 0] > 0).astype(np.int64) if d.shape[1] == 1 else d.argmax(1)
        return self.classes[index]

    def save(self, path: str | Path) -> None:
        arrays = {f"parameter_{i}": p for i, p in enumerate(self.parameters)}
        arrays.update(scale=self.scale, coef=self.coef, intercept=self.intercept, classes=self.classes.astype(np.int64))
        if self.mean is not None and self.std is not None:
            arrays.update(mean=self.mean, std=self.std)
        save_arrays(path, arrays, {"num_channels": str(self.num_channels), "length": str(self.length),
                                   "parameters": json.dumps(len(self.parameters))})

    @classmethod
    def load(cls, path: str | Path) -> RocketRidge:
        t, metadata = load_arrays(path)
        parameters = tuple(t[f"parameter_{i}"] for i in range(json.loads(metadata["parameters"])))
        return cls(parameters, int(metadata["num_channels"]), int(metadata["length"]), t["scale"], t["coef"],
                   t["intercept"], t["classes"], t.get("mean"), t.get("std"))


@contextlib.contextmanager
def torch_threads_kept() -> Iterator[None]:
    """numba's OpenMP layer, which aeon starts, sets every OpenMP thread count, torch's included; a
    model run afterwards would run (and round) differently (as baselines.sequence_baselines says)."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
