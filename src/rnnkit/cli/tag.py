"""`rnnkit tag`: one tag per word with a tagging run (part of speech, named entities).

    echo "John lives in New York" | rnnkit tag runs/ner_conll03_bilstm_crf      # word<TAB>tag<TAB>p
    rnnkit tag RUN sentences.txt --format=json          # one JSON object per sentence, every tag's probability
    rnnkit tag RUN tokens.txt --input=tokens            # one token per line, a blank line between sentences
    rnnkit tag RUN --split=test                         # per-tag report and confusion PNG of the run's test split
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import torch

from ..data.batch import batches
from ..plots.classify import plot_confusion
from ..runs import load
from ..runs.baselines import check_split
from ..tasks.tagging import TaggedSentence, Tagging
from ..tasks.tagging.scoring import outcome
from ._args import no_overrides

EXAMPLES = """examples:
  echo "John lives in New York" | rnnkit tag runs/ner_conll03_bilstm_crf
  rnnkit tag runs/pos_ewt_bigru sentences.txt                # one sentence a line, split at whitespace
  rnnkit tag runs/pos_ewt_bigru tokens.txt --input=tokens    # one token a line, blank lines between sentences
  rnnkit tag runs/pos_ewt_bigru sentences.txt --format=json  # JSON Lines with every tag's probability
  rnnkit tag runs/pos_ewt_bigru --split=test                 # report + RUN_DIR/confusion_test.png"""


def tag(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("tag", overrides)
    saved = load(args.run_dir, tasks=("tagging",), command="tag")
    if args.split:
        if args.file is not None:
            raise ValueError("give a FILE to tag, or --split to score the run on its own data, not both")
        return report(args.run_dir, saved, args.split)
    text = sys.stdin.read() if args.file in (None, "-") else Path(args.file).read_text(encoding="utf-8")
    sentences = read_sentences(text, args.input)
    if not sentences:
        raise ValueError(f"{args.file or 'stdin'} holds no words to tag: give one sentence a line "
                         "(or one token a line with --input=tokens)")
    write(saved.predict(sentences), args.format, sys.stdout)
    return 0


def read_sentences(text: str, mode: str) -> list[list[str]]:
    """`lines`: each non-blank line is a sentence, split at whitespace. `tokens`: each line one
    token (the first field of a CoNLL-style line), a blank line between sentences."""
    if mode == "lines":
        return [line.split() for line in text.splitlines() if line.strip()]
    sentences, words = [], []
    for line in text.splitlines():
        if line.strip():
            words.append(line.split()[0])
        elif words:
            sentences.append(words)
            words = []
    return sentences + ([words] if words else [])


def write(tagged: Iterable[TaggedSentence], form: str, out) -> None:
    """CoNLL columns (word, tag, its probability; a blank line after each sentence) or JSON Lines."""
    for sentence in tagged:
        if form == "json":
            print(json.dumps(sentence.to_dict(), ensure_ascii=False), file=out)
            continue
        for word, t, p in zip(sentence.words, sentence.tags, sentence.probability):
            print(f"{word}\t{t}\t{p:.4f}", file=out)
        print(file=out)


def report(run_dir: str, saved, split: str) -> int:
    """The run's metrics on its own split, the per-tag report and the confusion PNG."""
    task = saved.task
    assert isinstance(task, Tagging)                                 # load() checked the task name
    data = task.load()
    check_split(run_dir, data)                                       # the same sentences as in training
    part = getattr(data, split, None)
    if part is None:
        raise ValueError(f"this run's data has no {split} split")
    with torch.no_grad():
        result = outcome(saved.model, batches(part, 256))
    tags = saved.meta["tags"]
    print(json.dumps({"split": split, **result.metrics(tags, task.tag_scheme)}))
    print(result.report(tags, task.tag_scheme))
    png = plot_confusion(result.confusion(len(tags)), tags, Path(run_dir) / f"confusion_{split}.png")
    print(f"wrote {png}")
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("tag", help="tag words with a tagging run (part of speech, named entities)",
                            description="Tag each word of the sentences in FILE (or stdin) with a tagging run; "
                            "or score the run on its own valid/test split.", epilog=EXAMPLES, **kind)
    p.add_argument("run_dir", help="a run directory written by rnnkit train with task.name = 'tagging'")
    p.add_argument("file", nargs="?", metavar="FILE", help="text to tag (default or '-': stdin)")
    p.add_argument("--input", choices=["lines", "tokens"], default="lines",
                   help="lines: one sentence a line, split at whitespace (default); tokens: one token a line "
                        "(the first column), a blank line between sentences")
    p.add_argument("--format", choices=["conll", "json"], default="conll",
                   help="conll: word, tag and its probability a line (default); json: one object per sentence "
                        "with every tag's probability")
    p.add_argument("--split", choices=["valid", "test"], help="instead of tagging: the run's metrics, per-tag "
                   "report and RUN_DIR/confusion_SPLIT.png on that split")


COMMANDS = {"tag": tag}
