"""A text classifier started from a language model (Dai & Le 2015; ULMFiT, Howard & Ruder 2018).

ULMFiT's three stages, and where each lives in rnnkit:
1. pretrain a word-level language model on much unlabelled text: any language_modeling run
   (configs/lm_imdb.toml: the IMDB training reviews), built once and reused;
2. fine-tune it on the target task's own texts (the classifier's training split, labels unused):
   `task.lm_epochs` epochs at the start of the classification run (`fine_tune` below);
3. train the classifier on the fine-tuned encoder with gradual unfreezing, discriminative
   learning rates and a slanted-triangular schedule (train.unfreeze_epochs, optim.layer_decay,
   optim.schedule = "slanted_triangular": train/unfreeze.py and train/optim.py).

With `task.pretrained`, the classifier takes the language model's vocabulary (its words start
from the language model's embeddings), its recurrent stack ([model] of that run) and its weights;
only the pooling and the head are new. A saved classifier keeps all of this in its own
meta.json and weights, so the language-model run may be deleted afterwards.

`task.init_embedding` is the lighter variant (Dai & Le's): only the embedding rows of the words
both vocabularies hold are copied into a classifier of its own [model].
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...config import ModelConfig, RunConfig, from_dict, parse_config, with_overrides
from ...data.batch import Splits
from ...data.text import Vocab, batchify_stream
from ...models.language_model import LanguageModel
from ...train.checkpoint import CONFIG_FILE, META_FILE, STATE_FILE, WEIGHTS_FILE
from ...train.checkpoint import load_weights as load_model_weights
from ...train.loop import Interrupted, fit
from ..language_modeling import LanguageModeling

CHECKPOINT_EVERY = 500      # fine-tuning updates between checkpoints (a few minutes on full IMDB, 2 CPU cores)


@dataclass(frozen=True)
class PretrainedRun:
    """A word-level language_modeling run, read from its directory without its corpus."""

    path: Path
    config: RunConfig                # the run's config.toml
    vocab: Vocab

    @property
    def task(self) -> LanguageModeling:
        return LanguageModeling(**self.config.task.settings)

    def encoder(self) -> dict[str, Any]:
        """What a classifier's meta.json keeps to rebuild the encoder: the run's [model] and its
        embedding size."""
        size = self.task.embedding_size or self.config.model.hidden_size
        return {"model": dataclasses.asdict(self.config.model), "embedding_size": size,
                "run": str(self.path)}

    def language_model(self) -> LanguageModel:
        """The run's language model with its trained weights."""
        model = self.task.build_model(self.config.model, {"vocab": self.vocab.to_dict()})
        return load_model_weights(model, self.path)


def read_run(run_dir: str | Path, where: str) -> PretrainedRun:
    """The language_modeling run in `run_dir`; `where` names the setting in error messages."""
    run = Path(run_dir)
    if not all((run / name).is_file() for name in (META_FILE, WEIGHTS_FILE, CONFIG_FILE)):
        raise ValueError(f"{where}: no {CONFIG_FILE}, {META_FILE} and {WEIGHTS_FILE} there; give a trained "
                         "language_modeling run directory (e.g. rnnkit train configs/lm_imdb.toml)")
    saved = json.loads((run / META_FILE).read_text(encoding="utf-8"))
    if saved.get("task") != "language_modeling":
        raise ValueError(f"{where} is a {saved.get('task')!r} run; it must be a language_modeling run")
    vocab = (saved.get("meta") or {}).get("vocab")
    if not isinstance(vocab, dict) or vocab.get("level") != "word":
        raise ValueError(f"{where}: its vocabulary is not word-level; only word embeddings match a text "
                         "classifier's words")
    return PretrainedRun(run, parse_config(run / CONFIG_FILE), Vocab.from_dict(vocab))


def language_model_embeddings(run_dir: str | Path) -> tuple[list[str], Tensor]:
    """(tokens, embedding matrix (V, E)) of a word-level language_modeling run."""
    run = read_run(run_dir, f"task.init_embedding = {str(run_dir)!r}")
    return list(run.vocab.tokens), run.language_model().embedding.weight.detach()


def encoder_config(meta: dict) -> ModelConfig:
    """The [model] of the language model a classifier's encoder came from (kept in its meta)."""
    return from_dict({"model": meta["encoder"]["model"]}).model


def missing_words(vocab: Vocab, texts: list[str]) -> tuple[int, int, float]:
    """(distinct words of `texts` the vocabulary lacks, distinct words, share of their tokens it lacks)."""
    tokens = [t for text in texts for t in vocab.split(text)]
    distinct = set(tokens)
    lacking = {t for t in distinct if t not in vocab.index}
    share = sum(t in lacking for t in tokens) / max(1, len(tokens))
    return len(lacking), len(distinct), share


def say_missing(vocab: Vocab, texts: list[str], source: str) -> float:
    """Prints how many of the training texts' words the pretrained vocabulary lacks (they read as
    <unk>), with a warning when it is most of them; returns the share of tokens lacking."""
    lacking, distinct, share = missing_words(vocab, texts)
    print(f"the pretrained vocabulary of {source} ({len(vocab):,} words) lacks {lacking:,} of the {distinct:,} "
          f"distinct words of the training texts ({share:.1%} of their tokens); they read as <unk>", flush=True)
    if share > 0.2:
        print(f"warning: {share:.0%} of the training tokens are unknown to {source}: pretrain a language model on "
              "text like yours (rnnkit train configs/lm_imdb.toml --task.path=YOUR_TEXTS) or leave "
              "task.pretrained empty", flush=True)
    return share


def fine_tune(run: PretrainedRun, texts: list[str], valid: list[str], epochs: int, seed: int,
              folder: Path | None = None) -> LanguageModel:
    """ULMFiT's second stage: the run's language model trained `epochs` more epochs on `texts`
    (the target task's training texts, one per line) with discriminative rates and a
    slanted-triangular schedule, validated on `valid`. The classifier keeps the result; `folder`
    (inside the classifier's run directory) holds this stage's checkpoints, about every 500
    updates, and a call that finds one there resumes from it (on full IMDB the stage takes hours)."""
    lm, task = run.language_model(), run.task
    rows = max(1, min(task.batch_size, len(texts) // 4))
    train_ids, valid_ids = (run.vocab.encode("\n".join(part) + "\n") for part in (texts, valid))
    bptt = min(run.config.train.bptt or 70, max(2, train_ids.numel() // rows - 1))
    data = Splits(batchify_stream(train_ids, rows), batchify_stream(valid_ids, max(1, min(task.eval_batch_size,
                                                                                 valid_ids.numel() // 2 - 1))))
    cfg = with_overrides(run.config, [f"seed={seed}", f"train.epochs={epochs}", "train.eval_every=0",
                                      "train.eval_every_epochs=0", "train.patience=0", "train.restore_best=false",
                                      f"train.bptt={bptt}", "train.random_bptt=false", "train.plots=false",
                                      "optim.schedule=slanted_triangular", "optim.layer_decay=2.6", "optim.warmup=0",
                                      "train.unfreeze_epochs=0", f"train.checkpoint_every={CHECKPOINT_EVERY}"])
    resume = folder is not None and (folder / STATE_FILE).is_file()
    if folder is not None and not resume:
        shutil.rmtree(folder, ignore_errors=True)               # a start stopped before its first checkpoint
        folder.mkdir(parents=True, exist_ok=True)          # every rank of a torchrun job gets here
    print(f"{'resuming' if resume else 'fine-tuning'} the language model of {run.path} on the {len(texts)} training "
          f"texts ({train_ids.numel():,} tokens, {epochs} epoch{'s' * (epochs > 1)})", flush=True)
    try:
        fit(lm, task, data, cfg, run_dir=folder, resume=resume)
    except Interrupted as error:                                # the command to give is the classifier run's
        parent = folder.parent if folder is not None else None
        raise Interrupted(f"interrupted while fine-tuning the language model ({error}); resume with: "
                          f"rnnkit train --resume {parent}") from None
    return lm


def start_from(model: nn.Module, lm: LanguageModel) -> None:
    """Copies the language model's embedding and recurrent stack into the classifier `model`
    (same vocabulary and stack by construction)."""
    with torch.no_grad():
        model.embedding.weight.copy_(lm.embedding.weight)
    model.rnn.load_state_dict(lm.rnn.state_dict())
