"""`rnnkit translate`: apply a translation run to text, a file or its own test split, and draw
attention heat maps.

    rnnkit translate runs/translate_dates "Donnerstag, 4. März 2021"
    rnnkit translate runs/translate_bible_luong --file=verses.en --beam=5 > verses.es
    rnnkit translate runs/translate_bible_luong --file=verses.en --reference=verses.es   # + BLEU, chrF
    rnnkit translate runs/translate_bible_luong --split=test --beam=5                    # the run's test books
    rnnkit translate runs/translate_dates "4 mars 2021" --heatmap=map.png                # its attention
    rnnkit translate runs/translate_dates "4 mars 2021" --target=2021-03-04 --heatmap=map.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..data.pairs import note
from ..plots.translate import plot_attention
from ..runs import SavedRun, load
from ..tasks.translation import Translation, TranslationPredictor
from ..tasks.translation.metrics import signatures, text_metrics
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit train configs/translate_dates.toml
  rnnkit translate runs/translate_dates "Donnerstag, 4. März 2021"
  rnnkit translate runs/translate_bible_luong --file=verses.en --beam=5 > verses.es
  rnnkit translate runs/translate_bible_luong --file=verses.en --reference=verses.es
  rnnkit translate runs/translate_bible_luong --split=test --beam=5
  rnnkit translate runs/translate_dates "4 mars 2021" --heatmap=map.png
  rnnkit translate runs/translate_bible_luong "In the beginning" --target="En el principio" --heatmap=map.png"""


def inputs(args: argparse.Namespace, saved: SavedRun) -> tuple[list[str], list[str] | None]:
    """(sentences, references or None) from TEXT, --file (and --reference) or the run's --split."""
    if args.split is not None:
        assert isinstance(saved.task, Translation)                 # load() checked the task name
        pairs = saved.task.raw().get(args.split)
        if not pairs:
            raise ValueError(f"this run's data has no {args.split} split")
        return [s for s, _ in pairs], [t for _, t in pairs]
    if args.file is None:
        return [args.text], None
    texts = Path(args.file).read_text(encoding="utf-8").splitlines()
    if args.reference is None:
        return texts, None
    references = Path(args.reference).read_text(encoding="utf-8").splitlines()
    if len(references) != len(texts):
        raise ValueError(f"{args.file} has {len(texts)} lines but {args.reference} {len(references)}")
    return texts, references


def heatmap(args: argparse.Namespace, predictor: TranslationPredictor, output: str) -> None:
    target_text = args.target if args.target is not None else output
    source, rows, weights = predictor.attention(args.text, target_text)
    png = plot_attention(weights, source, rows, args.heatmap, title=f"{args.text[:60]} -> {target_text[:60]}")
    print(f"wrote {png}", file=sys.stderr)


def command(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("translate", overrides)
    if sum(x is not None for x in (args.text, args.file, args.split)) != 1:
        raise ValueError("give exactly one of TEXT, --file=PATH (one sentence per line) or --split=valid|test")
    if (args.heatmap or args.target is not None) and args.text is None:
        raise ValueError("--heatmap and --target draw one sentence pair: give TEXT")
    saved = load(args.run_dir, tasks=("translation",), command="translate")
    texts, references = inputs(args, saved)
    full = [i for i, t in enumerate(texts) if t.strip()]
    if len(full) < len(texts):
        note(f"{len(texts) - len(full)} empty line(s) give empty output lines")
    lines = saved.predict(texts, beam=args.beam, alpha=args.alpha, max_length=args.max_length)
    print("\n".join(lines))
    if references is not None:                     # empty input lines are not scored
        score([lines[i] for i in full], [references[i] for i in full])
    if args.heatmap:
        assert isinstance(saved.predictor, TranslationPredictor)
        heatmap(args, saved.predictor, lines[0])
    return 0


def score(outputs: Sequence[str], references: Sequence[str]) -> None:
    metrics = text_metrics(outputs, references)
    print(json.dumps({**metrics, "sentences": len(references), "signatures": signatures()}), file=sys.stderr)


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("translate", help="translate text with a translation run; attention heat maps",
                            description="Translate TEXT, every line of --file, or the run's own --split with "
                            "beam search; score against references; draw the attention of a sentence pair.",
                            epilog=EXAMPLES, **kind)
    p.add_argument("run_dir", help="a translation run directory")
    p.add_argument("text", nargs="?", help="one sentence to translate")
    p.add_argument("--file", help="a text file, one sentence per line (outputs keep its line order)")
    p.add_argument("--reference", help="with --file: reference translations, one per line: prints BLEU, chrF")
    p.add_argument("--split", choices=["valid", "test"], help="translate the run's own split and score it")
    p.add_argument("--beam", type=int, default=5, help="beam width (1 = greedy)")
    p.add_argument("--alpha", type=float, default=0.6, help="length normalisation strength (0 = none)")
    p.add_argument("--max-length", "--max_length", dest="max_length", type=int, default=0,
                   help="most output tokens (default: the run's task.max_length + 1)")
    p.add_argument("--heatmap", metavar="PNG", help="with TEXT: write its attention heat map here")
    p.add_argument("--target", help="with --heatmap: draw the attention for this given translation instead")


COMMANDS = {"translate": command}
