"""The task contract: data, the saved run's metadata, model construction, loss, metrics and
prediction. Every capability a caller uses is declared here; the optional ones are separate
protocols that a caller tests with isinstance, never probed with hasattr (the ones training uses,
PlotsAtEnd and RidgeTrained, are declared in train/protocols.py, below tasks, and re-exported here).

The life of a run: `load()` the data -> `describe(data)` the JSON metadata a trained model needs
besides its weights (vocabularies, label names, scalers, alphabet, series ids) -> `build_model(cfg,
meta)` -> `loss`/`evaluate` in training -> the run directory holds config.toml, meta.json and
model.safetensors -> `rnnkit.load(run_dir)` rebuilds the model from the config and meta.json alone
(no training data) and `predictor(model, meta).predict(inputs)` serves the user's inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from ..config import ModelConfig, RunConfig
from ..data.batch import Batch, Splits
from ..train.protocols import Metrics as Metrics
from ..train.protocols import PlotsAtEnd as PlotsAtEnd
from ..train.protocols import RidgeTrained as RidgeTrained

Meta = dict[str, Any]       # JSON values only: it is written to RUN_DIR/meta.json


class Predictor(Protocol):
    """A trained model with its task's pre- and post-processing: the user's inputs in (texts,
    feature sequences, series frames, audio paths), the task's outputs back, in eval mode."""

    def predict(self, inputs: Any) -> Any: ...


class Task(Protocol):
    """A frozen dataclass whose fields are the task's own settings ([task] in a config).

    `carries_state`: True for stream tasks (the state flows from one batch into the next, and
    each split is a (B, T) bundle of parallel streams); False when each batch starts afresh.
    `describe` returns what `build_model` and `predictor` need from the data, as JSON values.
    `loss` calls `model(...)` (the loop may hand it a DistributedDataParallel wrapper) and
    returns the mean loss over the batch with the final state. `evaluate` returns metrics,
    the first of which is the default for early stopping."""

    carries_state: bool

    def load(self) -> Splits: ...

    def describe(self, data: Splits) -> Meta: ...

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module: ...

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]: ...

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics: ...

    def predictor(self, model: nn.Module, meta: Meta) -> Predictor: ...


@runtime_checkable
class Pretrained(Protocol):
    """Optional: a task that starts from a model trained by another run it can name (a named
    pretrained encoder). `to_pretrain` is that run's (directory, config) while it is not built
    yet (no BUILT_FILE in it), else None; the run driver builds it first, once, resuming a build
    that was stopped, writes BUILT_FILE when it has finished, and the task then reads it."""

    def to_pretrain(self) -> tuple[Path, RunConfig] | None: ...


# A named pretrained model's directory holds this once its build has finished. Its weights alone
# do not say so: every checkpoint of the build writes them.
BUILT_FILE = "built.json"


@runtime_checkable
class WarmStarted(Protocol):
    """Optional: a task whose new model starts partly from weights trained elsewhere (a language
    model run's embeddings). `warm_start` runs once when a new run starts, never when a saved run
    is loaded: its weights already hold the result, and the other run need not exist any more.
    A warm start that trains (ULMFiT's language-model fine-tuning) checkpoints into `folder`
    (RUN_DIR/WARM_START_DIR) and resumes from there, so a run stopped during it loses nothing."""

    def warm_start(self, model: nn.Module, meta: Meta, data: Splits, folder: Path | None = None) -> None: ...


WARM_START_DIR = "warm_start"     # inside a run directory, removed when the run's training has finished


@runtime_checkable
class ChoosesAfterTraining(Protocol):
    """Optional: a task that, once its model is trained, chooses on the validation split between the
    model and simpler methods (forecasting: Theta, ETS and combinations) and returns `meta` with
    that choice added; the run writes it to meta.json, so a loaded run's predictor uses it."""

    def choose(self, model: nn.Module, data: Splits, meta: Meta, run_dir: Path | None = None) -> Meta: ...


@runtime_checkable
class MeasuredWhileChoosing(Protocol):
    """Optional, beside `ChoosesAfterTraining`: the rows of the end-of-run table (runs/baselines.py)
    that `choose` measured already on the same splits, {split: {"model": metrics, "network":
    metrics}}, which the table takes instead of scoring the model again (text classification scores
    every candidate on valid and test to choose; on IMDB each further pass over its 24,582 test
    reviews took minutes). Empty where `meta` holds no such measurement."""

    def measured(self, meta: Meta) -> dict[str, dict[str, Metrics]]: ...


@runtime_checkable
class ReadsRunFiles(Protocol):
    """Optional: a task whose run predicts with more than its network, so that `rnnkit.load` calls
    `run_predictor` instead of `predictor` (text classification: the validated n-gram model, a file
    beside the weights, RUN_DIR/ngrams.safetensors) and the end-of-run table and `rnnkit eval`
    score those predictions (`run_metrics`; forecasting: its validated selection)."""

    def run_predictor(self, model: nn.Module, meta: Meta, run_dir: Path) -> Predictor: ...

    def run_metrics(self, predictor: Predictor, data: Splits, split: str) -> Metrics | None:
        """The metrics of the run's own predictions (`run_predictor`) on `split` where they are not
        the model's (a validated selection other than the network), else None."""
        ...


@runtime_checkable
class HasBaselines(Protocol):
    """Optional: the simple models a practitioner would try first (a TF-IDF logistic regression,
    1-NN DTW, seasonal naive, a Kneser-Ney n-gram...), fitted once on `data.train` (choosing their
    own settings on `data.valid` where they have any) and scored on each split named in `splits`
    ("valid", "test") with the metrics `evaluate` reports, so the rows compare: {split: {baseline
    name: metrics}}. A run prints them beside the model's metrics when training ends, and `rnnkit
    eval RUN --baselines` on the split recorded in RUN_DIR/split.json."""

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]: ...


@runtime_checkable
class CrossValidated(Protocol):
    """Optional: a task that on a small training set replaces the held-out validation split by
    stratified k-fold cross-validation (which chooses the number of epochs) and a seed ensemble of
    final models trained on all the training data (runs/crossval.py trains them). `cross_validates`
    says whether this run's metadata chose that protocol; `build_model` then builds the ensemble,
    and `member` one model of it (a fold's model); `folds` is k. `variants` are the models the
    folds choose between, {name: the metadata that builds it}, the simplest first (one entry:
    nothing to choose); `chosen_meta` is the run's metadata for the variant the folds kept."""

    folds: int

    def cross_validates(self, meta: Meta) -> bool: ...

    def member(self, cfg: ModelConfig, meta: Meta) -> nn.Module: ...

    def variants(self, meta: Meta) -> dict[str, Meta]: ...

    def chosen_meta(self, meta: Meta, variant: str) -> Meta: ...

    def alternatives(self, meta: Meta) -> tuple[str, ...]:
        """Models other than the network the folds score too (none: nothing to compare)."""
        ...

    def fit_alternative(self, name: str, train: Batch, meta: Meta) -> Any:
        """The alternative fitted on `train`; it has `predict_batch(part) -> (N,) class ids`."""
        ...

    def keep_alternative(self, name: str, train: Batch, meta: Meta, run_dir: Path) -> None:
        """The alternative the folds kept, fitted on `train`, saved where `run_predictor` reads it."""
        ...
