"""Classification of whole sequences: texts (sentiment) and multivariate series (sensors, speech
features), with a (bi)directional recurrent stack, a pooling and a linear layer, or for series an
echo state network with a ridge readout.

    [task] name = "text_classification",     path = "imdb" | a .csv, .tsv or .jsonl file | a folder of train.*
    [task] name = "sequence_classification", path = "japanese_vowels" | a .ts, .arff or .npz file | a UEA
           folder (NAME_TRAIN.ts, NAME_TEST.ts) | a folder of <label>/*.csv sequences

Where the data comes from is in sources.py; the settings, loss and metrics both share in _common.py;
the baselines (`HasBaselines`) in baselines.py; the predictors in predict.py.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ...config import ModelConfig, RunConfig
from ...data import labelled
from ...data.batch import Batch, Splits
from ...data.labelled import as_batch, check_sequences, encode_labels, encode_texts
from ...data.text import Vocab
from ...layers.differences import difference_statistics
from ...models.classifier import SequenceClassifier, copy_embeddings
from ...models.ensemble import ProbabilityEnsemble
from ...models.esn import EchoStateClassifier, deep_reservoir
from ...train import CheckpointError
from ..base import Meta, Metrics, Predictor
from ._common import Classification, LabelledSplits, Outcome, differences_of, outcome, statistics, trimmed
from .baselines import scores as outcome_scores
from .baselines import sequence_baselines, text_baselines
from .encoders import resolve, to_build
from .metrics import accuracy as accuracy
from .metrics import balanced_weights as balanced_weights
from .metrics import confusion_matrix as confusion_matrix
from .metrics import macro_f1 as macro_f1
from .metrics import per_class as per_class
from .metrics import report as report
from .nb_logreg import fit_nb_logreg
from .ngrams import NGRAMS_FILE, NgramLogReg
from .predict import SequencePredictor, TextPredictor, text_outcome
from .pretrained import (
    PretrainedRun,
    encoder_config,
    fine_tune,
    language_model_embeddings,
    read_run,
    say_missing,
    start_from,
)
from .rocket import ROCKET, ROCKET_FILE, RocketRidge
from .small_data import carve_for_cv, check_protocol, chosen, protocol_meta
from .sources import labelled_sample, sequence_parts, text_parts
from .text_select import NETWORK, SELECT, blend_weights, candidates, metrics_of, pick, show

__all__ = ["LabelledSplits", "Outcome", "SequenceClassification", "TextClassification", "accuracy",
           "balanced_weights", "confusion_matrix", "macro_f1", "outcome", "per_class", "report", "trimmed"]


@dataclass(frozen=True)
class TextClassification(Classification):
    """Texts -> labels. `path`: "imdb" (fetched), a CSV, TSV (.tsv) or JSON Lines (.jsonl) file with
    columns `text_column` and `label_column`, or a folder with train.* and optional valid.* / test.*
    in one of those formats."""

    text_column: str = "text"       # the column (a .jsonl file: the key) holding the texts
    label_column: str = "label"     # the column (a .jsonl file: the key) holding the labels
    level: str = "word"             # word (lower-cased, punctuation split) or bpe (HF tokenizers)
    max_vocab: int = 20000          # most frequent tokens kept (bpe: the subword count)
    min_count: int = 1              # rarer tokens read as <unk>
    max_length: int = 0             # keep the first max_length tokens of each text; 0 = all
    embedding_size: int = 128       # size of the token embeddings
    init_embedding: str = ""        # a word-level language_modeling run whose embeddings start ours
    # ULMFiT (Howard & Ruder 2018; pretrained.py): a word-level language_modeling run whose vocabulary,
    # embeddings and recurrent stack ([model] of that run) start the classifier, or a named encoder
    # built once into the cache ("imdb": encoders.py); "" = none
    pretrained: str = ""
    lm_epochs: int = 1              # with pretrained: epochs fine-tuning its language model on our training texts
    # > 0: only this many labelled texts (a seeded sample of the training pool, validation included) are
    # used, the valid_fraction of them for validation: small-data experiments such as "IMDB with 1,000 labels"
    train_size: int = 0
    # validate: after training keep what classifies the validation texts best, the network, NB-weighted n-grams +
    # logistic regression or a blend of both (text_select.py); network: the network alone
    select: str = "validate"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.select not in SELECT:
            raise ValueError(f"task.select must be one of {list(SELECT)}, got {self.select!r}")
        if self.level not in ("word", "bpe"):
            raise ValueError(f"task.level must be 'word' or 'bpe', got {self.level!r}")
        if self.max_vocab < 2 or self.min_count < 1 or self.max_length < 0 or self.embedding_size < 1:
            raise ValueError("task.max_vocab must be >= 2, min_count and embedding_size >= 1, max_length >= 0")
        if self.pretrained and (self.init_embedding or self.level != "word"):
            raise ValueError("task.pretrained brings its own word vocabulary and embeddings: leave task.init_embedding "
                             "empty and task.level = 'word'")
        if self.lm_epochs < 0 or self.train_size < 0:
            raise ValueError("task.lm_epochs and task.train_size must be >= 0")
        if self.path == "imdb" and self.pretrained == "imdb" and self.seed != 0:
            # the named encoder read the training reviews of split 0: another split tests on some of them
            raise ValueError("task.pretrained = 'imdb' was pretrained on the training reviews of the IMDB split of "
                             "task.seed = 0; keep task.seed = 0 (vary the run's seed instead)")

    def load(self) -> LabelledSplits:
        parts = text_parts(self.path, text_column=self.text_column, label_column=self.label_column,
                           seed=self.seed, valid_fraction=self.valid_fraction)
        if self.train_size:
            parts = labelled_sample(parts, self.train_size, self.seed, self.valid_fraction, self.test_fraction)
        raw = self._carve(parts, 0.0 if Path(self.path).is_dir() or "test" in parts else self.test_fraction)
        normal = {name: [labelled.normalize_text(t) for t in part.inputs] for name, part in raw.items()}
        meta: dict = {}
        if self.pretrained:
            run = self._pretrained()
            vocab, meta["encoder"] = run.vocab, run.encoder()
            say_missing(vocab, normal["train"], self.pretrained)
        else:
            vocab = Vocab.build("\n".join(normal["train"]), level=self.level, max_size=self.max_vocab,
                                min_count=self.min_count)
        ids, classes = encode_labels(raw["train"].labels, where="train ")
        labels = {name: ids if name == "train" else encode_labels(part.labels, classes, where=f"{name} ")[0]
                  for name, part in raw.items()}
        splits = {name: as_batch(encode_texts(normal[name], vocab, self.max_length, where=f"{name} "), labels[name])
                  for name in raw}
        return self._splits(splits, {"classes": classes, "vocab": vocab.to_dict(), **meta}, raw,
                            texts={name: (normal[name], labels[name]) for name in raw})

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """TF-IDF and NB-weighted word 1-2-grams + logistic regression (see baselines.py), on the texts load() read."""
        if not isinstance(data, LabelledSplits) or data.texts is None or not set(splits) <= set(data.texts):
            raise ValueError(f"{type(self).__name__}.baselines needs the data of its own load() with the splits "
                             f"{list(splits)}")
        return text_baselines(data.texts, splits)

    def choose(self, model: nn.Module, data: Splits, meta: Meta, run_dir: Path | None = None) -> Meta:
        """After training (task.select = "validate"): `meta` with the validated selection under
        "selection" (text_select.py), printed as one table; the n-gram model, unless the network
        was chosen, written to RUN_DIR/ngrams.safetensors."""
        if self.select != "validate":
            return meta
        texts = data.texts if isinstance(data, LabelledSplits) else None
        if texts is None or "valid" not in texts or not texts["valid"][0]:
            print("validated selection skipped: the run has no validation texts", flush=True)
            return meta
        try:
            ngrams = fit_nb_logreg(texts, len(meta["classes"]))
        except ImportError as error:
            print(f"validated selection skipped: {error}", flush=True)
            return meta
        network = self.predictor(copy.deepcopy(model).cpu().eval(), meta)      # the network alone
        both = {split: (network.normalised_probabilities(texts[split][0]).double().numpy(),    # (N, C) each
                        ngrams.probabilities(texts[split][0]))
                for split in ("valid", "test") if split in texts and texts[split][0]}
        selection: dict = {"weights": blend_weights(*both["valid"], texts["valid"][1])}
        for split, (p, q) in both.items():
            selection[split] = metrics_of(candidates(p, q, selection["weights"]), texts[split][1])
        selection["choice"] = pick(selection["valid"])
        if selection["choice"] != NETWORK:
            if run_dir is None:
                raise ValueError("TextClassification.choose needs the run directory to keep the n-gram model in")
            ngrams.save(Path(run_dir) / NGRAMS_FILE)
        print(f"== validated selection: the best validation accuracy is kept (meta.json 'selection')\n"
              f"{show(selection)}", flush=True)
        return {**meta, "selection": selection}

    def measured(self, meta: Meta) -> dict[str, dict[str, Metrics]]:
        """The end-of-run table's "model" (the chosen candidate) and "network" rows of each split
        that `choose` scored, from meta["selection"]; {} without one."""
        selection = meta.get("selection") or {}
        choice = selection.get("choice")
        rows: dict[str, dict[str, Metrics]] = {}
        for split in ("valid", "test"):
            scored = selection.get(split) or {}
            if choice in scored and NETWORK in scored:
                rows[split] = {"model": scored[choice]} | ({} if choice == NETWORK else {"network": scored[NETWORK]})
        return rows

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        """The classifier of [model]; with a pretrained encoder (meta["encoder"]), of the language
        model's [model] and embedding size instead."""
        size = self.embedding_size
        if meta.get("encoder"):
            cfg, size = encoder_config(meta), meta["encoder"]["embedding_size"]
        return self.classifier(cfg, meta, size, vocab_size=len(meta["vocab"]["tokens"]))

    def warm_start(self, model: nn.Module, meta: Meta, data: Splits, folder: Path | None = None) -> None:
        """A new run only (a saved run's weights already hold the result). task.pretrained: the
        language model fine-tuned on the training texts (lm_epochs; checkpointed in `folder` and
        resumed from it), then its embedding and stack copied in. task.init_embedding: the rows
        of the words both vocabularies hold start from the language model's embeddings."""
        if self.pretrained:
            run = self._pretrained()
            texts = data.texts if isinstance(data, LabelledSplits) else None
            lm = run.language_model()
            if self.lm_epochs and texts is not None:
                lm = fine_tune(run, texts["train"][0], texts["valid"][0], self.lm_epochs, self.seed, folder)
            start_from(model, lm)
            return
        if not self.init_embedding:
            return
        assert isinstance(model, SequenceClassifier) and model.embedding is not None
        lm_tokens, weight = language_model_embeddings(self.init_embedding)
        tokens = meta["vocab"]["tokens"]
        n = copy_embeddings(model.embedding, tokens, nn.Embedding.from_pretrained(weight), lm_tokens)
        print(f"{n} of {len(tokens)} embeddings start from {self.init_embedding}", flush=True)

    def to_pretrain(self) -> tuple[Path, RunConfig] | None:
        """Pretrained: a named encoder (task.pretrained = "imdb") the cache does not hold yet."""
        return to_build(self.pretrained) if self.pretrained else None

    def _pretrained(self) -> PretrainedRun:
        return read_run(resolve(self.pretrained), f"task.pretrained = {self.pretrained!r}")

    def predictor(self, model: nn.Module, meta: Meta) -> TextPredictor:
        """The network alone (a run that chose otherwise on validation: `run_predictor`)."""
        return TextPredictor(model, meta["classes"], Vocab.from_dict(meta["vocab"]), max_length=self.max_length)

    def run_metrics(self, predictor: Predictor, data: Splits, split: str) -> Metrics | None:
        """The run's own predictions scored on `split` where validation chose other than the network."""
        if not isinstance(predictor, TextPredictor) or predictor.choice == NETWORK:
            return None
        if not isinstance(data, LabelledSplits) or data.texts is None or split not in data.texts:
            raise ValueError(f"{type(self).__name__}.run_metrics needs the data of its own load() with a {split} split")
        normal, y = data.texts[split]
        return text_outcome(predictor.normalised_probabilities(normal), y).metrics()

    def run_predictor(self, model: nn.Module, meta: Meta, run_dir: Path) -> TextPredictor:
        """The run's predictor, following its validated selection (meta["selection"])."""
        choice = meta.get("selection", {}).get("choice", NETWORK)
        path = Path(run_dir) / NGRAMS_FILE
        if choice != NETWORK and not path.is_file():
            raise CheckpointError(f"{run_dir} chose {choice!r} on validation but has no {NGRAMS_FILE}; copy the whole "
                                  "run directory, or train the run again")
        ngrams = NgramLogReg.load(path) if choice != NETWORK else None
        return TextPredictor(model, meta["classes"], Vocab.from_dict(meta["vocab"]), max_length=self.max_length,
                             ngrams=ngrams, choice=choice, weights=meta.get("selection", {}).get("weights"))


@dataclass(frozen=True)
class SequenceClassification(Classification):
    """Multivariate sequences -> labels. `path`: "japanese_vowels" (fetched; standard 270/370
    split), "fashion_mnist" (28 rows of 28 pixels; fetched from Debian) or "fashion_mnist:DIR"
    (DIR holds the four idx .gz files), or a folder of <label>/*.csv (optionally under train/
    and test/)."""

    standardize: bool = True        # per-feature mean and std from the training split
    # each feature's step-to-step change beside it as one more channel (layers/differences.py), for
    # either encoder: what separates shapes (a slope, a turn) without the network learning to subtract.
    # "auto": under the cv protocol the folds choose with or without them (the one-standard-error
    # rule, fewer inputs preferred: runs/crossval.py); with no folds to choose by, without them
    differences: bool | str = "auto"
    # encoder = "reservoir": an echo state network (Jaeger et al. 2007) instead of [model]'s cell:
    # a fixed reservoir of [model] hidden_size units (num_layers > 1: deep), pooled by `pooling`
    # (last, max, mean or mean_last), then a ridge readout (train.method = "ridge"); settings below.
    encoder: str = "rnn"            # rnn or reservoir
    spectral_radius: float = 0.9    # reservoir: largest |eigenvalue| of W_hh
    leak: float = 1.0               # reservoir: leak rate (1 = no leak)
    density: float = 0.1            # reservoir: share of nonzero recurrent weights
    input_scaling: float = 1.0      # reservoir: scale of W_ih
    bias_scaling: float = 0.0       # reservoir: scale of the bias
    input_to_readout: bool = False  # the pooled inputs too, beside the pooled states
    alpha: float = 1e-2             # ridge penalty of the readout
    # the small-data protocol (small_data.py): "cv" chooses the epochs by stratified k-fold
    # cross-validation and trains a seed ensemble on all the training sequences; "auto" picks it
    # below small_data training sequences (rnn encoder, unbucketed), else "holdout"
    protocol: str = "auto"          # auto, holdout or cv
    small_data: int = 1000          # auto: fewer training sequences than this are cross-validated
    folds: int = 5                  # cv: stratified folds that choose the number of epochs
    ensemble: int = 5               # cv: final models (seeds) whose mean class probabilities predict
    # cv, "validate": the folds also score MiniRocket + ridge (Dempster et al. 2021) out of fold, and
    # the run predicts with it where it is more than one standard error better than the network
    # (runs/crossval.py; RUN_DIR/rocket.safetensors); "network": always the network
    select: str = "validate"

    washout = 0                     # RidgeTrained: a classifier pools whole sequences, none discarded

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.encoder not in ("rnn", "reservoir"):
            raise ValueError(f"task.encoder must be 'rnn' or 'reservoir', got {self.encoder!r}")
        if self.encoder == "reservoir" and (self.bucket_size or self.class_weights != "none"):
            raise ValueError("task.bucket_size and task.class_weights are for the gradient-trained rnn encoder; "
                             "leave them unset with task.encoder = 'reservoir'")
        check_protocol(self.protocol, small_data=self.small_data, folds=self.folds, ensemble=self.ensemble,
                       encoder=self.encoder, bucket_size=self.bucket_size)
        if self.differences not in (True, False, "auto"):
            raise ValueError(f"task.differences must be true, false or 'auto', got {self.differences!r}")
        if self.select not in SELECT:
            raise ValueError(f"task.select must be one of {list(SELECT)}, got {self.select!r}")

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        if meta.get("ensemble"):                            # the cv protocol's seed ensemble
            return ProbabilityEnsemble([self.member(cfg, meta) for _ in range(meta["ensemble"])])
        return self.member(cfg, meta)

    def cross_validates(self, meta: Meta) -> bool:
        return meta.get("protocol") == "cv"

    def variants(self, meta: Meta) -> dict[str, Meta]:
        """What the folds choose between: with differences = "auto", the model without them, then
        with them (`meta` holds their statistics); otherwise the model as configured."""
        if self.differences != "auto" or not meta.get("differences"):
            return {"as configured": meta}
        return {"raw": self.chosen_meta(meta, "raw"), "differences": meta}

    def alternatives(self, meta: Meta) -> tuple[str, ...]:
        """What the folds compare the network with: MiniRocket + ridge under select = "validate"."""
        return (ROCKET,) if self.select == "validate" and self.encoder == "rnn" else ()

    def fit_alternative(self, name: str, train: Batch, meta: Meta) -> RocketRidge:
        """The alternative `name` fitted on `train`, reading the features standardised as the model does."""
        if name != ROCKET:
            raise ValueError(f"unknown alternative {name!r}; SequenceClassification offers {ROCKET!r}")
        return RocketRidge.fit_batch(train, mean=meta["mean"], std=meta["std"], seed=self.seed)

    def keep_alternative(self, name: str, train: Batch, meta: Meta, run_dir: Path) -> None:
        """The alternative the folds kept, fitted on every training sequence, into the run directory."""
        self.fit_alternative(name, train, meta).save(run_dir / ROCKET_FILE)

    def run_predictor(self, model: nn.Module, meta: Meta, run_dir: Path) -> SequencePredictor:
        """The run's predictor: MiniRocket + ridge where the folds kept it (meta["selection"])."""
        if (meta.get("selection") or {}).get("choice", NETWORK) == NETWORK:
            return self.predictor(model, meta)
        path = Path(run_dir) / ROCKET_FILE
        if not path.is_file():
            raise CheckpointError(f"{run_dir} kept MiniRocket + ridge by cross-validation but has no {ROCKET_FILE}; "
                                  "copy the whole run directory, or train the run again")
        return SequencePredictor(model, meta["classes"], num_features=meta["num_features"],
                                 rocket=RocketRidge.load(path))

    def run_metrics(self, predictor: Predictor, data: Splits, split: str) -> Metrics | None:
        """The kept MiniRocket's metrics on `split`; None where the network predicts."""
        if not isinstance(predictor, SequencePredictor) or predictor.rocket is None:
            return None
        part = getattr(data, split, None)
        if part is None:
            raise ValueError(f"{type(self).__name__}.run_metrics: the data has no {split} split")
        return outcome_scores(part.targets, predictor.rocket.predict_batch(part))

    def chosen_meta(self, meta: Meta, variant: str) -> Meta:
        """`meta` for the variant the folds kept: "raw" drops the differences' statistics, so a
        loaded run builds its members without them."""
        return {**meta, "differences": None} if variant == "raw" else meta

    def member(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        """One model: the classifier [model] describes, or the echo state network."""
        if self.encoder == "rnn":
            return self.classifier(cfg, meta, meta["num_features"])
        differences = differences_of(meta)
        reservoir = deep_reservoir(meta["num_features"] * (2 if differences is not None else 1), cfg.hidden_size,
                                   cfg.num_layers, dtype=torch.float64,
                                   spectral_radius=self.spectral_radius, leak=self.leak, density=self.density,
                                   input_scaling=self.input_scaling, bias_scaling=self.bias_scaling)
        return EchoStateClassifier(reservoir, len(meta["classes"]), pool=self.pooling,
                                   input_to_readout=self.input_to_readout, **statistics(meta),
                                   differences=differences)

    def predictor(self, model: nn.Module, meta: Meta) -> SequencePredictor:
        return SequencePredictor(model, meta["classes"], num_features=meta["num_features"])

    def load(self) -> LabelledSplits:
        raw = sequence_parts(self.path)
        protocol = chosen(self.protocol, len(raw["train"].inputs), small_data=self.small_data, encoder=self.encoder,
                          bucket_size=self.bucket_size)
        test_fraction = self.test_fraction if "test" not in raw else 0.0
        raw = (self._carve(raw, test_fraction) if protocol == "holdout" else
               carve_for_cv(raw, valid_fraction=self.valid_fraction, test_fraction=test_fraction, seed=self.seed))
        ids, classes = encode_labels(raw["train"].labels, where="train ")
        check_sequences(raw["train"].inputs, where="train ")
        meta = {"classes": classes, "num_features": int(raw["train"].inputs[0].size(1)), "mean": None, "std": None,
                **protocol_meta(protocol, self.ensemble, len(raw["train"].inputs))}
        if self.standardize:
            steps = torch.cat(raw["train"].inputs).double()                         # (sum T, C)
            meta["mean"], meta["std"] = steps.mean(0).tolist(), steps.std(0).clamp_min(1e-8).tolist()
        if self.differences is True or (self.differences == "auto" and protocol == "cv"):
            # of the series as the model reads them: standardised first
            scale = (torch.tensor(meta["std"]) if self.standardize else torch.ones(meta["num_features"])).double()
            mean, std = difference_statistics(raw["train"].inputs)
            meta["differences"] = {"mean": (mean / scale).tolist(), "std": (std / scale).tolist()}
        splits = {name: as_batch(part.inputs, ids if name == "train" else encode_labels(part.labels, classes,
                                 where=f"{name} ")[0], num_features=meta["num_features"], where=f"{name} ")
                  for name, part in raw.items()}
        return self._splits(splits, meta, raw)

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """1-NN DTW and MiniRocket + ridge (see baselines.py) on the features as the model reads them."""
        scored = {split: getattr(data, split, None) for split in splits}
        if not isinstance(data, LabelledSplits) or data.meta is None or any(v is None for v in scored.values()):
            raise ValueError(f"{type(self).__name__}.baselines needs the data of its own load() with the splits "
                             f"{list(splits)}")
        return sequence_baselines(data.train, scored, mean=data.meta["mean"], std=data.meta["std"], seed=self.seed)
