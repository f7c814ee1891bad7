"""`rnnkit similar`: queries on a language_modeling run's input embeddings.

    rnnkit similar runs/ptb_small money                  # nearest words by cosine similarity
    rnnkit similar runs/ptb_small man king woman         # man : king :: woman : ?
    rnnkit similar runs/ptb_small --plot=words.png       # PCA of the 300 most frequent words
"""

from __future__ import annotations

import argparse

from ..plots.embeddings import plot_pca
from ..runs import load
from ..tasks.language_modeling import LanguageModelPredictor
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit similar runs/ptb_small money                 # the 10 nearest words
  rnnkit similar runs/ptb_small man king woman        # analogy man : king :: woman : ?
  rnnkit similar runs/ptb_small --plot=words.png --count=300"""


def similar(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("similar", overrides)
    if len(args.words) not in ((0, 1, 3) if args.plot else (1, 3)):
        raise ValueError("give one WORD (nearest words) or three A B C (A : B :: C : ?), or --plot=PNG")
    predictor = load(args.run_dir, tasks=("language_modeling",), command="similar").predictor
    assert isinstance(predictor, LanguageModelPredictor)              # load() checked the task
    if args.words:
        found = predictor.nearest(args.words[0], k=args.k) if len(args.words) == 1 else \
            predictor.analogy(*args.words, k=args.k)
        for word, score in found:
            print(f"{score:7.4f}  {word}")
    if args.plot:
        words, xy = predictor.pca(count=args.count)
        print(f"wrote {plot_pca(xy, words, args.plot)}")
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    s = commands.add_parser("similar", help="nearest words, analogies and a PCA plot of the embeddings",
                            epilog=EXAMPLES, description="Query a language model's input embeddings.", **kind)
    s.add_argument("run_dir", help="a language_modeling run directory")
    s.add_argument("words", nargs="*", help="WORD, or A B C for A : B :: C : ?")
    s.add_argument("-k", "--k", type=int, default=10, help="how many neighbours to list")
    s.add_argument("--plot", metavar="PNG", help="write a PCA plot of the most frequent tokens here")
    s.add_argument("--count", type=int, default=300, help="tokens in the plot")


COMMANDS = {"similar": similar}
