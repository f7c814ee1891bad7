"""`rnnkit classify train|eval|predict|select`: sequence and text classifiers from the command line.

    rnnkit classify train configs/classify_uci_bigru.toml --train.epochs=4
    rnnkit classify eval runs/classify_uci_bigru --split=test          # report + confusion_test.png
    rnnkit classify predict runs/classify_uci_bigru "what a great film"
    rnnkit classify predict runs/classify_uci_bigru --file=reviews.txt  # one text per line
    rnnkit classify predict runs/classify_uci_bigru --csv=reviews.csv   # its text column
    rnnkit classify predict runs/classify_japanese_vowels new/          # feature sequences: CSVs, .npy
    rnnkit classify select runs/reviews                 # a text run's validated selection made again
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from ..data.batch import batches
from ..data.labelled import read_text_csv
from ..data.sequence_files import read_sequences
from ..plots.classify import attention_strip, attention_text, plot_confusion
from ..runs import load
from ..runs.baselines import check_classes, check_split
from ..runs.load import select_again
from ..tasks.classification import Prediction, SequencePredictor, TextClassification, TextPredictor, outcome
from ..tasks.classification._common import Outcome
from ..tasks.classification.metrics import confusion_matrix, report
from ..tasks.classification.predict import text_outcome
from ..tasks.classification.text_select import NETWORK
from ._args import no_overrides, task_keys
from .train import add_arguments as add_train_arguments
from .train import train

TASK_NAMES = ("text_classification", "sequence_classification")
EXAMPLES = """examples:
  rnnkit classify train configs/classify_uci_bigru.toml --train.epochs=4
  rnnkit classify eval runs/classify_uci_bigru --split=test
  rnnkit classify predict runs/classify_uci_bigru "what a great film"
  rnnkit classify predict runs/classify_uci_bigru --csv=reviews.csv
  rnnkit classify predict runs/classify_japanese_vowels utterances/   # every CSV below, one sequence each
  rnnkit classify predict runs/classify_japanese_vowels batch.npy     # (N, T, C) or (T, C)
  rnnkit classify select runs/reviews          # a text run trained before the selection: choose now"""


def evaluate(args: argparse.Namespace, overrides: list[str]) -> int:
    """The task's own evaluation pass on a split: its metrics, the per-class report and the
    confusion matrix come from the same predictions."""
    no_overrides("classify eval", overrides)
    saved = load(args.run_dir, tasks=TASK_NAMES, command="classify")
    data = saved.task.load()
    check_split(args.run_dir, data)                                 # the same examples as in training
    check_classes(args.run_dir, saved.meta, data)                   # and the same labels
    split = getattr(data, args.split, None)
    if split is None:
        raise ValueError(f"this run's data has no {args.split} split")
    predictor = saved.predictor
    texts = getattr(data, "texts", None)
    if isinstance(predictor, TextPredictor) and predictor.choice != NETWORK and texts is not None:
        # the run's validated selection (the n-gram model or the blend of both), not the network alone
        normal, y = texts[args.split]
        result = text_outcome(predictor.normalised_probabilities(normal), y)
        print(f"the run's validated selection: {predictor.choice}", file=sys.stderr)    # stdout: JSON first
    elif isinstance(predictor, SequencePredictor) and predictor.rocket is not None:
        # the folds kept MiniRocket + ridge: its classes (a ridge has no probabilities, so no loss)
        result = Outcome(float("nan"), split.targets, predictor.rocket.predict_batch(split))
        print("the run's cross-validated selection: minirocket_ridge", file=sys.stderr)
    else:
        with torch.no_grad():
            result = outcome(saved.model, batches(split, saved.cfg.train.batch_size))
    classes = saved.meta["classes"]
    print(json.dumps({"split": args.split, **result.metrics()}))
    print(report(result.targets, result.predictions, classes))
    png = plot_confusion(confusion_matrix(result.targets, result.predictions, len(classes)), classes,
                         Path(args.run_dir) / f"confusion_{args.split}.png")
    print(f"wrote {png}")
    return 0


def predict(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("classify predict", overrides)
    if sum(x is not None for x in (args.text, args.file, args.csv)) != 1:
        raise ValueError("give exactly one of TEXT, --file=PATH (one text per line) or --csv=PATH")
    saved = load(args.run_dir, tasks=TASK_NAMES, command="classify")
    if isinstance(saved.predictor, SequencePredictor):         # a sequence run: the input is a path
        if args.attention:
            raise ValueError("--attention shows the tokens of a text; this run classifies feature sequences")
        names, series = read_sequences(args.text or args.file or args.csv, saved.meta["num_features"])
        show_predictions(saved.predict(series), names)
        return 0
    task = saved.task
    assert isinstance(task, TextClassification)                    # load() checked the task name
    if args.attention and task.pooling != "attention":
        raise ValueError(f"--attention shows attention-pooling weights; this run pools with {task.pooling!r}")
    texts = read_texts(args, task.text_column)
    show_predictions(saved.predict(texts), texts, Path(args.run_dir) / "attention" if args.attention else None)
    return 0


def read_texts(args: argparse.Namespace, text_column: str) -> list[str]:
    """TEXT, the non-blank lines of --file, or the text column of --csv."""
    if args.file is not None:
        return [line for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.csv is not None:
        return read_text_csv(args.csv, text_column=text_column, label_column=args.label_column or text_column)[0]
    return [args.text]


def show_predictions(predictions: Sequence[Prediction], names: Sequence[str], explain: Path | None = None) -> None:
    """One line per input: best label, its probability, every class's, the input (cut to 80);
    with `explain` (a folder) each text's attention weights follow, and their heat strip is
    written there as N.png (N from 1)."""
    for i, (name, p) in enumerate(zip(names, predictions), 1):
        shown = ", ".join(f"{c}={q:.3f}" for c, q in p.probabilities.items())
        print(f"{p.label}\t{p.probabilities[p.label]:.3f}\t{shown}\t{name[:80]}")
        if explain is not None and p.tokens is not None and p.attention is not None:
            print(format_attention(p.tokens, p.attention, colour=sys.stdout.isatty()))
            png = attention_strip(p.tokens, torch.tensor(p.attention), explain / f"{i}.png", title=name)
            print(f"wrote {png}", file=sys.stderr)


def format_attention(tokens: Sequence[str], weights: Sequence[float], *, colour: bool = False) -> str:
    """Coloured backgrounds (white 0 .. red the largest weight) as terminal escape codes, or
    plain `token[weight]` for files and pipes."""
    if not colour:
        return " ".join(f"{t}[{float(w):.3f}]" for t, w in zip(tokens, weights))
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=100)
    console.print(attention_text(tokens, torch.tensor(weights)))
    return console.file.getvalue().rstrip("\n")


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    classify = commands.add_parser("classify", help="train, evaluate and apply sequence/text classifiers",
                                   description="Train, evaluate and apply classifiers of texts and of "
                                   "feature sequences.", epilog=EXAMPLES, **kind)
    sub = classify.add_subparsers(dest="classify_command", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train from a config (as rnnkit train)", epilog=task_keys(*TASK_NAMES), **kind)
    add_train_arguments(t)
    e = sub.add_parser("eval", help="accuracy, macro-F1, per-class report and a confusion-matrix PNG", **kind)
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p = sub.add_parser("predict", help="labels with probabilities for texts or feature sequences", **kind)
    p.add_argument("run_dir")
    p.add_argument("text", nargs="?", help="one text to classify; for a sequence run, a CSV (one sequence, a row "
                   "per step), a .npy array (T, C) or (N, T, C), a .npz, a UEA/UCR .ts or .arff file, or a "
                   "folder of such CSVs")
    p.add_argument("--file", help="a text file, one text per line")
    p.add_argument("--csv", help="a CSV with the run's text column (a sequence run: one sequence)")
    p.add_argument("--attention", "--explain", dest="attention", action="store_true", help="attention pooling: "
                   "each token's weight, coloured on a terminal, and a heat strip RUN_DIR/attention/N.png")
    p.add_argument("--label-column", "--label_column", dest="label_column", default=None,
                   help=argparse.SUPPRESS)
    c = sub.add_parser("select", help="a text run: choose again on validation between the network, NB-weighted "
                       "n-grams + logistic regression and their blend (e.g. a run trained before the selection)",
                       **kind)
    c.add_argument("run_dir")


def select(args: argparse.Namespace, overrides: list[str]) -> int:
    """A text run's validated selection (the network, NB-weighted n-grams + logistic regression or their blend)
    made again on its validation texts with its saved network: for a run trained before the
    selection existed. meta.json (and RUN_DIR/ngrams.safetensors) are rewritten."""
    no_overrides("classify select", overrides)
    meta = select_again(args.run_dir, tasks=("text_classification",), command="classify select")
    print(f"chose {meta['selection']['choice']}; wrote {Path(args.run_dir) / 'meta.json'}")
    return 0


def classify(args: argparse.Namespace, overrides: list[str]) -> int:
    actions = {"train": train, "eval": evaluate, "predict": predict, "select": select}
    return actions[args.classify_command](args, overrides)


COMMANDS = {"classify": classify}
