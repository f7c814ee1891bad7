"""`rnnkit classify train|eval|predict`: sequence and text classifiers from the command line.

    rnnkit classify train configs/classify_uci_bigru.toml --train.epochs=4
    rnnkit classify eval runs/classify_uci_bigru --split=test          # report + confusion_test.png
    rnnkit classify predict runs/classify_uci_bigru "what a great film"
    rnnkit classify predict runs/classify_uci_bigru --file=reviews.txt  # one text per line
    rnnkit classify predict runs/classify_uci_bigru --csv=reviews.csv   # its text column
    rnnkit classify predict runs/classify_japanese_vowels new/          # feature sequences: CSVs, .npy
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from ..models.classifier import SequenceClassifier
from ..tasks import build_task
from .train import add_arguments as add_train_arguments
from .train import train

TASK_NAMES = ("text_classification", "sequence_classification")
EXAMPLES = """examples:
  rnnkit classify train configs/classify_uci_bigru.toml --train.epochs=4
  rnnkit classify eval runs/classify_uci_bigru --split=test
  rnnkit classify predict runs/classify_uci_bigru "what a great film"
  rnnkit classify predict runs/classify_uci_bigru --csv=reviews.csv
  rnnkit classify predict runs/classify_japanese_vowels utterances/   # every CSV below, one sequence each
  rnnkit classify predict runs/classify_japanese_vowels batch.npy     # (N, T, C) or (T, C)"""


def load_classifier(run_dir: str | Path) -> tuple[object, object, nn.Module, dict]:
    """(config, task, model in eval mode on the CPU, meta) of a classification run, without its data.
    The model is a SequenceClassifier, or an EchoStateClassifier for task.encoder = "reservoir"."""
    from ..runs import read_saved_run
    from ..train.checkpoint import load_weights

    cfg, blob = read_saved_run(run_dir, tuple(TASK_NAMES), "classify", "meta_json")
    meta = json.loads(blob.numpy().tobytes().decode("utf-8"))
    task = build_task(cfg.task)
    model = load_weights(task.model_for(cfg.model, meta), run_dir)
    return cfg, task, model.eval(), meta


def predict_texts(model: SequenceClassifier, meta: dict, texts: list[str]) -> torch.Tensor:
    """(N, C) class probabilities of raw texts (the training run's tokenisation)."""
    from ..data.labelled import encode_texts, normalize_text
    from ..data.text import Vocab

    vocab = Vocab.from_dict(meta["vocab"])
    return predict_sequences(model, encode_texts([normalize_text(t) for t in texts], vocab, meta["max_length"]))


def predict_sequences(model: nn.Module, series: list[torch.Tensor]) -> torch.Tensor:
    """(N, C) class probabilities of (T,) token ids or raw (T, C) feature sequences (the model
    standardises features with its run's statistics), in padded batches of 256."""
    from ..data.labelled import pad

    out = []
    with torch.no_grad():
        for start in range(0, len(series), 256):
            x, lengths = pad(series[start:start + 256])
            out.append(torch.softmax(model(x, None, lengths)[0].float(), dim=-1))
    return torch.cat(out)


def evaluate(args: argparse.Namespace, overrides: list[str]) -> int:
    from ..data.batch import batches
    from ..data.labelled import FILLER
    from ..tasks.classification.task import confusion_matrix, report, trimmed
    from ..train.loop import evaluate as run_eval

    if overrides:
        raise ValueError(f"classify eval takes no config overrides, got {' '.join(overrides)}")
    cfg, task, model, meta = load_classifier(args.run_dir)
    split = getattr(task.load(), args.split, None)
    if split is None:
        raise ValueError(f"this run's data has no {args.split} split")
    metrics = run_eval(model, task, batches(split, cfg.train.batch_size))
    targets, predictions = [], []
    with torch.no_grad():
        for batch in batches(split, cfg.train.batch_size):
            inputs, lengths, y = trimmed(batch)
            targets.append(y[y != FILLER])
            predictions.append(model(inputs, None, lengths)[0].argmax(-1)[y != FILLER])
    targets, predictions, classes = torch.cat(targets), torch.cat(predictions), meta["classes"]
    print(json.dumps({"split": args.split, **metrics}))
    print(report(targets, predictions, classes))
    from ..plots.classify import plot_confusion

    png = plot_confusion(confusion_matrix(targets, predictions, len(classes)), classes,
                         Path(args.run_dir) / f"confusion_{args.split}.png")
    print(f"wrote {png}")
    return 0


def predict(args: argparse.Namespace, overrides: list[str]) -> int:
    from ..data.labelled import read_text_csv

    if overrides:
        raise ValueError(f"classify predict takes no config overrides, got {' '.join(overrides)}")
    if sum(x is not None for x in (args.text, args.file, args.csv)) != 1:
        raise ValueError("give exactly one of TEXT, --file=PATH (one text per line) or --csv=PATH")
    cfg, _, model, meta = load_classifier(args.run_dir)
    if meta.get("vocab") is None:                  # a sequence run: the input is a path
        from ..data.labelled import read_sequences

        if args.attention:
            raise ValueError("--attention shows the tokens of a text; this run classifies feature sequences")
        names, series = read_sequences(args.text or args.file or args.csv, meta["num_features"])
        show_predictions(predict_sequences(model, series), meta["classes"], names)
        return 0
    if args.file is not None:
        texts = [line for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    elif args.csv is not None:
        column = cfg.task.settings.get("text_column", "text")
        texts = read_text_csv(args.csv, text_column=column, label_column=args.label_column or column)[0]
    else:
        texts = [args.text]
    probabilities = predict_texts(model, meta, texts)
    explain = (lambda i, text: explain_text(model, meta, text, Path(args.run_dir) / "attention" / f"{i}.png")) \
        if args.attention else None
    show_predictions(probabilities, meta["classes"], texts, explain)
    return 0


def show_predictions(probabilities: torch.Tensor, classes: Sequence[str], names: Sequence[str],
                     explain: Callable[[int, str], None] | None = None) -> None:
    """One line per input: best label, its probability, every class's, the input (cut to 80);
    then `explain(number from 1, input)` if given."""
    for i, (name, p) in enumerate(zip(names, probabilities), 1):
        best = int(p.argmax())
        shown = ", ".join(f"{c}={float(q):.3f}" for c, q in zip(classes, p))
        print(f"{classes[best]}\t{float(p[best]):.3f}\t{shown}\t{name[:80]}")
        if explain is not None:
            explain(i, name)


def attention_weights(model: SequenceClassifier, meta: dict, text: str) -> tuple[list[str], torch.Tensor]:
    """The text's tokens as written (unknown ones too) and their attention-pooling weights (T,)."""
    from ..data.labelled import encode_texts, normalize_text
    from ..data.text import Vocab

    vocab = Vocab.from_dict(meta["vocab"])
    normal = normalize_text(text)
    ids = encode_texts([normal], vocab, meta["max_length"])[0]
    with torch.no_grad():
        weights = model.attention(ids[None], torch.tensor([len(ids)]))[0]
    return vocab.split(normal)[: len(ids)], weights


def show_attention(model: SequenceClassifier, meta: dict, text: str, *, colour: bool = False) -> str:
    """The text's tokens with their attention weights (see format_attention)."""
    return format_attention(*attention_weights(model, meta, text), colour=colour)


def format_attention(tokens: Sequence[str], weights: torch.Tensor, *, colour: bool = False) -> str:
    """Coloured backgrounds (white 0 .. red the largest weight) as terminal escape codes, or
    plain `token[weight]` for files and pipes."""
    if not colour:
        return " ".join(f"{t}[{float(w):.3f}]" for t, w in zip(tokens, weights))
    from rich.console import Console

    from ..plots.classify import attention_text

    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=100)
    console.print(attention_text(tokens, weights))
    return console.file.getvalue().rstrip("\n")


def explain_text(model: SequenceClassifier, meta: dict, text: str, png: Path) -> None:
    """Prints the text's attention weights (coloured on a terminal) and writes their heat strip."""
    from ..plots.classify import attention_strip

    tokens, weights = attention_weights(model, meta, text)
    print(format_attention(tokens, weights, colour=sys.stdout.isatty()))
    print(f"wrote {attention_strip(tokens, weights, png, title=text)}", file=sys.stderr)


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    classify = commands.add_parser("classify", help="train, evaluate and apply sequence/text classifiers",
                                   description="Train, evaluate and apply classifiers of texts and of "
                                   "feature sequences.", epilog=EXAMPLES, **kind)
    sub = classify.add_subparsers(dest="classify_command", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train from a config (as rnnkit train)", **kind)
    add_train_arguments(t)
    e = sub.add_parser("eval", help="accuracy, macro-F1, per-class report and a confusion-matrix PNG", **kind)
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p = sub.add_parser("predict", help="labels with probabilities for texts or feature sequences", **kind)
    p.add_argument("run_dir")
    p.add_argument("text", nargs="?", help="one text to classify; for a sequence run, a CSV (one sequence, a row "
                   "per step), a .npy array (T, C) or (N, T, C), or a folder of such CSVs")
    p.add_argument("--file", help="a text file, one text per line")
    p.add_argument("--csv", help="a CSV with the run's text column (a sequence run: one sequence)")
    p.add_argument("--attention", "--explain", dest="attention", action="store_true", help="attention pooling: "
                   "each token's weight, coloured on a terminal, and a heat strip RUN_DIR/attention/N.png")
    p.add_argument("--label-column", "--label_column", dest="label_column", default=None,
                   help=argparse.SUPPRESS)


def classify(args: argparse.Namespace, overrides: list[str]) -> int:
    return {"train": train, "eval": evaluate, "predict": predict}[args.classify_command](args, overrides)


COMMANDS = {"classify": classify}
