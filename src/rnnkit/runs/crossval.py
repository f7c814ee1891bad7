"""Training under the small-data protocol (task.protocol = "cv", tasks/classification/small_data.py):
stratified k-fold cross-validation chooses the number of epochs, then a seed ensemble of final
models is trained on all the training sequences for that many epochs.

1. Each fold trains a fresh model on k-1 folds for at most train.epochs epochs, evaluated on the
   held-out fold every epoch and stopped after train.patience epochs without a better train.metric
   (as a holdout run stops). Its best epoch and the metrics there are the fold's result; the mean
   and standard deviation of the folds' accuracy is the cross-validated estimate.
   Where the task offers variants of the model (`variants`: sequence classification with
   task.differences = "auto" tries it without and with the difference channels), every variant
   runs the same folds, and the one-standard-error rule on their paired out-of-fold errors keeps
   one, the simplest preferred (`choose_variant`; train/one_se.py).
   Where the task offers alternatives to the network (`alternatives`: MiniRocket + ridge under
   task.select = "validate"), each is fitted and scored on the same folds, and the same rule keeps
   the network unless one is clearly better (`validated_selection`); the task then saves the kept
   one with the run (`keep_alternative`) and meta.json names it under "selection".
2. The number of epochs is the mean of the kept variant's folds' best epochs (each fold trained on
   (k-1)/k of the data; the final models see all of it for as many passes).
3. The run's model, a ProbabilityEnsemble built by the task, has its members trained one by one on
   all the training sequences (member i shuffles with seed * 1000 + i and starts from its own
   random weights), with no validation: they predict by their mean class probabilities.

RUN_DIR/cv.json keeps the folds, the choice (and under "variants" what each variant scored out of
fold), and each member's and the ensemble's metrics on the run's valid (a source's own) and test
splits with the members' spread; meta.json describes the kept variant; model.safetensors holds all
the members' weights, so `rnnkit.load(RUN_DIR)` rebuilds the ensemble from meta.json alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import statistics
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import RunConfig
from ..data.batch import Batch, Splits, batches
from ..io.files import atomic_write
from ..models.ensemble import ProbabilityEnsemble
from ..tasks.base import CrossValidated, Meta, Metrics
from ..train import evaluate, fit
from ..train.checkpoint import WEIGHTS_FILE, save_weights, write_meta
from ..train.one_se import one_se, standard_errors
from ..train.stream import total_iterations

CV_FILE = "cv.json"
NETWORK = "network"
PATIENCE = 10                   # epochs without improvement in a fold when train.patience is 0


def cross_validated(task: Any, meta: Meta, cfg: RunConfig) -> bool:
    """Whether this run trains under the cv protocol (its task and metadata chose it)."""
    if not (isinstance(task, CrossValidated) and task.cross_validates(meta)):
        return False
    if cfg.train.method != "gradient":
        # only an rnn encoder is cross-validated, so a ridge readout here lacks its reservoir
        raise ValueError(f"task.protocol = 'cv' trains an rnn encoder by gradient, not train.method = "
                         f"{cfg.train.method!r}: set task.encoder = 'reservoir' for a ridge readout (its protocol is "
                         "holdout), or train.method = 'gradient'")
    return True


def fit_cross_validated(model: nn.Module, task: Any, data: Splits, cfg: RunConfig, *, meta: Meta,
                        run_dir: str | Path | None = None, resume: bool = False,
                        on_eval: Callable[[int, Metrics], bool | None] | None = None) -> Metrics:
    """Trains `model` (the task's ensemble) as the module docstring says; returns the folds' mean
    metrics (the estimate a tuner should compare). `on_eval` is not called: folds are not a run's
    validations."""
    if resume:
        raise ValueError("a task.protocol = 'cv' run cannot resume; train it again")
    if not isinstance(model, ProbabilityEnsemble) or not isinstance(task, CrossValidated):
        raise ValueError("task.protocol = 'cv' needs a task that builds a seed ensemble (sequence_classification)")
    if not cfg.train.epochs:
        raise ValueError("task.protocol = 'cv' chooses the number of epochs: set train.epochs (the most, e.g. 200) "
                         "and train.patience, or set task.protocol = 'holdout'")
    pool = data.train
    pairs = stratified_folds(pool.targets, task.folds, seed=cfg.seed)
    variants = task.variants(meta)
    tried = {}
    for name, variant_meta in variants.items():
        if len(variants) > 1:
            print(f"cross-validating the variant {name!r}", flush=True)
        tried[name] = [fold_result(task, variant_meta, pool, train, valid, cfg, i)
                       for i, (train, valid) in enumerate(pairs)]
    chosen, table = choose_variant(tried, pool_size=len(pool))
    folds = tried[chosen]
    selection = validated_selection(task, meta, pool, pairs, folds)
    epochs = max(1, round(statistics.mean(f["best_epoch"] for f in folds)))
    accuracies = [f["accuracy"] for f in folds]
    print(f"cross-validation: accuracy {statistics.mean(accuracies):.4f} +- {statistics.pstdev(accuracies):.4f} over "
          f"{len(folds)} folds; best epochs {[f['best_epoch'] for f in folds]} -> {epochs} epochs", flush=True)
    if variants[chosen] is not meta:              # the ensemble was built from the run's meta: rebuild it
        torch.manual_seed(cfg.seed * 1000 + 900)
        model.members = nn.ModuleList(task.member(cfg.model, variants[chosen]) for _ in model.members)
    for i, member in enumerate(model.members):
        train_member(member, task, pool, cfg, epochs=epochs, seed=cfg.seed * 1000 + i)
        print(f"final model {i + 1}/{len(model.members)} trained on {len(pool)} sequences for {epochs} epochs",
              flush=True)
    summary = {"folds": [public(f) for f in folds], "epochs": epochs, **scores(model, task, data, cfg)}
    names = [name for name in summary["folds"][0] if name not in ("fold", "best_epoch")]
    estimate = {name: statistics.mean(f[name] for f in folds) for name in names}
    summary["cv"] = {**estimate, "accuracy_std": statistics.pstdev(accuracies)}
    if len(variants) > 1:
        summary["variants"] = {"rule": "one_se", "chosen": chosen, "scores": table}
    if selection is not None:
        summary["selection"] = selection
    if run_dir is not None:
        save_weights(Path(run_dir) / WEIGHTS_FILE, model, epochs)
        text = json.dumps(summary, indent=1)
        atomic_write(Path(run_dir) / CV_FILE, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
        kept = task.chosen_meta(meta, chosen)
        if selection is not None:               # the alternative kept, fitted on every training sequence
            kept = {**kept, "selection": {"choice": selection["choice"]}}
            if selection["choice"] != NETWORK:
                task.keep_alternative(selection["choice"], pool, kept, Path(run_dir))
        if kept is not meta:                      # a loaded run builds the variant kept and predicts as chosen
            write_meta(run_dir, cfg.task.name, kept)
    return {**estimate, "accuracy_std": summary["cv"]["accuracy_std"]}


def validated_selection(task: Any, meta: Meta, pool: Batch, pairs: list[tuple[Tensor, Tensor]],
                        network: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Where the task offers alternatives to its network (`alternatives`: sequence classification
    with task.select = "validate" offers MiniRocket + ridge), each is fitted on every fold's training
    part and scored on its held-out part, and the one-standard-error rule keeps the network unless
    an alternative is clearly better out of fold. {"rule", "choice", "scores"}, or None."""
    names = task.alternatives(meta)
    if not names:
        return None
    tried = {NETWORK: network}
    for name in names:
        print(f"cross-validating the alternative {name!r}", flush=True)
        tried[name] = []
        for i, (train, held_out) in enumerate(pairs):
            predicted = task.fit_alternative(name, pool.select(train), meta).predict_batch(pool.select(held_out))
            correct = (predicted == pool.targets[held_out]).double().numpy()
            tried[name].append({"fold": i, "held_out": held_out.numpy(), "correct": correct,
                                "nll": np.full(len(held_out), np.nan)})
    choice, table = choose_variant(tried, pool_size=len(pool), what="model")
    return {"rule": "one_se", "choice": choice, "scores": table}


def choose_variant(tried: dict[str, list[dict[str, Any]]], *, pool_size: int,
                   what: str = "variant") -> tuple[str, dict[str, Any]]:
    """The variant the one-standard-error rule keeps (train/one_se.py) from each variant's
    out-of-fold errors (every training sequence is held out once, so they pair up), the simplest
    (first) preferred; and a table of what it saw: {variant: out-of-fold accuracy, loss, standard
    error of its error rate minus the best's}. One variant: it, with nothing to print."""
    errors, loss = {}, {}
    for name, folds in tried.items():
        errors[name], loss[name] = np.full(pool_size, np.nan), np.full(pool_size, np.nan)
        for fold in folds:
            errors[name][fold["held_out"]] = 1.0 - fold["correct"]
            loss[name][fold["held_out"]] = fold["nll"]
    order = list(tried)
    chosen = one_se(errors, prefer=order.index) or order[0]
    se = standard_errors(errors)
    table = {name: {"accuracy": 1.0 - float(np.nanmean(errors[name])),
                    "loss": float(np.nanmean(loss[name])) if np.isfinite(loss[name]).any() else float("nan"),
                    "se": se.get(name, float("nan"))} for name in order}
    if len(order) > 1:
        best = max(order, key=lambda k: (table[k]["accuracy"], -order.index(k)))
        for name in order:
            row = table[name]
            print(f"  {name:>16}: out-of-fold accuracy {row['accuracy']:.4f}, loss {row['loss']:.4f}, "
                  f"SE of the difference {row['se']:.4f}" + ("  <- kept" if name == chosen else ""), flush=True)
        why = ("the best" if chosen == best else
               f"within one standard error of {best!r}, and simpler (the one-standard-error rule)")
        print(f"{what}: {chosen!r}, {why}", flush=True)
    return chosen, table


def public(fold: dict[str, Any]) -> dict[str, Any]:
    """A fold's result as cv.json keeps it (without its per-sequence arrays)."""
    return {k: v for k, v in fold.items() if k not in ("held_out", "correct", "nll")}


def stratified_folds(targets: Tensor, k: int, *, seed: int) -> list[tuple[Tensor, Tensor]]:
    """k (train, held-out) index pairs over targets (N,): every example is held out once, and each
    fold keeps the classes' shares (scikit-learn's StratifiedKFold, shuffled with `seed`)."""
    try:
        from sklearn.model_selection import StratifiedKFold
    except ImportError as error:
        raise ImportError("task.protocol = 'cv' needs scikit-learn: pip install 'rnnkit[classify]', or set "
                          f"task.protocol = 'holdout' ({error})") from error
    y = targets.cpu().numpy()
    if len(y) < 2 * k:
        raise ValueError(f"{len(y)} training sequences are too few for task.folds = {k}: lower task.folds "
                         "(at least 2) or set task.protocol = 'holdout'")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with _warnings_as_notes():                  # a class rarer than k: sklearn warns, the folds are still fine
        pairs = list(splitter.split(np.zeros(len(y)), y))
    return [(torch.as_tensor(train), torch.as_tensor(held_out)) for train, held_out in pairs]


def fold_result(task: Any, meta: Meta, pool: Batch, train_index: Tensor, valid_index: Tensor, cfg: RunConfig,
                fold: int) -> dict[str, Any]:
    """One fold: a fresh model trained with early stopping on the held-out fold; its best epoch
    and the held-out metrics there (the first best, as the loop's early stopping counts it), and
    the best weights' per-sequence results on the held-out fold: "held_out" (their indices in
    `pool`), "correct" (1 or 0) and "nll" (numpy arrays)."""
    split = Splits(pool.select(train_index), pool.select(valid_index))
    fold_cfg = _with_train(cfg, batch_size=min(cfg.train.batch_size, len(split.train)), eval_every=0,
                           eval_every_epochs=1, patience=cfg.train.patience or PATIENCE, restore_best=True)
    torch.manual_seed(cfg.seed * 1000 + 500 + fold)           # each fold's model starts from its own weights
    model, seen = task.member(cfg.model, meta), []
    with _quiet():
        fit(model, task, split, fold_cfg, on_eval=lambda iteration, metrics: seen.append((iteration, metrics)))
    sign = -1.0 if cfg.train.direction == "maximize" else 1.0
    name = cfg.train.metric or next(iter(seen[0][1]))
    iteration, metrics = min(seen, key=lambda s: sign * s[1][name])
    per_epoch = total_iterations(dataclasses.replace(fold_cfg.train, epochs=1), split, task)
    correct, nll = per_sequence(model, split.valid, fold_cfg.train.batch_size)
    result = {"fold": fold, "best_epoch": math.ceil(iteration / per_epoch), **metrics,
              "held_out": valid_index.numpy(), "correct": correct, "nll": nll}
    print(f"fold {fold + 1}: best epoch {result['best_epoch']}, held-out accuracy {metrics['accuracy']:.4f} "
          f"({len(valid_index)} sequences)", flush=True)
    return result


@torch.no_grad()
def per_sequence(model: nn.Module, part: Batch, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's results on each sequence of `part`: (correct (N,) 1.0 or 0.0, negative
    log-likelihood of the true class (N,)), float64 numpy arrays."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct, nll = [], []
    for batch in batches(part, batch_size):
        batch = batch.to(device)
        logits = model(batch.inputs, None, batch.lengths)[0].double()                  # (B, C)
        log_p = torch.log_softmax(logits, dim=-1)
        correct.append((logits.argmax(-1) == batch.targets).double().cpu())
        nll.append(-log_p.gather(1, batch.targets[:, None])[:, 0].cpu())
    model.train(was_training)
    return torch.cat(correct).numpy(), torch.cat(nll).numpy()


def train_member(member: nn.Module, task: Any, pool: Batch, cfg: RunConfig, *, epochs: int, seed: int) -> None:
    """A final model: all the training sequences, `epochs` epochs, no validation to stop on."""
    member_cfg = _with_train(dataclasses.replace(cfg, seed=seed), epochs=epochs, eval_every=0, eval_every_epochs=0,
                             patience=0, restore_best=False, batch_size=min(cfg.train.batch_size, len(pool)))
    with _quiet():
        fit(member, task, Splits(pool, pool.select(slice(0, 1))), member_cfg)   # valid: a stand-in, never chosen on


def scores(model: ProbabilityEnsemble, task: Any, data: Splits, cfg: RunConfig) -> dict[str, Any]:
    """Each member's and the ensemble's metrics on the run's valid and test splits (those it has),
    and the members' accuracy spread (population std and max - min) on each."""
    out: dict[str, Any] = {"members": {}, "ensemble": {}, "spread": {}}
    for name in ("valid", "test"):
        part = getattr(data, name, None)
        if part is None:
            continue
        members = [evaluate(member, task, batches(part, cfg.train.batch_size)) for member in model.members]
        out["members"][name] = members
        out["ensemble"][name] = evaluate(model, task, batches(part, cfg.train.batch_size))
        accuracy = [m["accuracy"] for m in members]
        out["spread"][name] = {"accuracy_std": statistics.pstdev(accuracy),
                               "accuracy_range": max(accuracy) - min(accuracy)}
        print(f"{name}: ensemble accuracy {out['ensemble'][name]['accuracy']:.4f}; members "
              f"{' '.join(f'{a:.4f}' for a in accuracy)} (std {out['spread'][name]['accuracy_std']:.4f}, "
              f"range {out['spread'][name]['accuracy_range']:.4f})", flush=True)
    return out


def _with_train(cfg: RunConfig, **train: Any) -> RunConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, plots=False, **train))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The loop's per-iteration lines silenced: a fold or member prints one summary line instead."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def _warnings_as_notes() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"note: {warning.message}", flush=True)
