"""The language-model commands of the `rnnkit` command line: `generate` and `similar`
(`generate` on a chaotic_series run hands over to esn_cli).

    rnnkit generate runs/shakespeare_char --prompt="ROMEO:" --tokens=300 --temperature=0.8 --seed=1
    rnnkit similar runs/ptb_small money                  # nearest words by cosine similarity
    rnnkit similar runs/ptb_small man king woman         # man : king :: woman : ?
    rnnkit similar runs/ptb_small --plot=words.png       # PCA of the 300 most frequent words
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data.text import Vocab
from ..models.language_model import LanguageModel, vocab_from_tensor
from ..tasks import build_task

EXAMPLES = {
    "generate": """examples:
  rnnkit generate runs/shakespeare_char --prompt="ROMEO:" --tokens=300 --temperature=0.8 --seed=1
  rnnkit generate runs/ptb_small --prompt="the company said" --tokens=30 --top-p=0.9
  rnnkit generate runs/ptb_small --prompt="the company said" --tokens=20 --beams=5
  rnnkit generate runs/esn_mackey_glass --steps=84             # closed loop on the test split
  rnnkit generate runs/esn_mackey_glass --steps=500 --seed=7   # ... on a fresh series""",
    "similar": """examples:
  rnnkit similar runs/ptb_small money                 # the 10 nearest words
  rnnkit similar runs/ptb_small man king woman        # analogy man : king :: woman : ?
  rnnkit similar runs/ptb_small --plot=words.png --count=300""",
}


def load_language_model(run_dir: str | Path) -> tuple[LanguageModel, Vocab]:
    """A language_modeling run's model (eval mode, CPU) and vocabulary, without the corpus."""
    from ..runs import read_saved_run
    from ..train.checkpoint import load_weights

    cfg, blob = read_saved_run(run_dir, ("language_modeling",), "this command", "vocab_json")
    vocab = vocab_from_tensor(blob)
    model = load_weights(build_task(cfg.task).model_for(cfg.model, vocab), run_dir)
    return model.eval(), vocab


def generate(args: argparse.Namespace, overrides: list[str]) -> int:
    """Text from a language model, or a closed-loop series from an echo state network: the
    run's task decides."""
    from ..models.generate import generate as sample
    from ..runs import read_config

    _no_overrides("generate", overrides)
    name = read_config(args.run_dir).task.name
    if name == "chaotic_series":
        from . import esn as esn_cli

        return esn_cli.generate(args)
    if name != "language_modeling":
        raise ValueError(f"{args.run_dir} is a {name!r} run, which cannot generate; generate continues a "
                         "language_modeling run's text or runs a chaotic_series run closed loop")
    model, vocab = load_language_model(args.run_dir)
    unknown = vocab.unknown(args.prompt)
    if unknown:
        print(f"note: {len(unknown)} prompt token(s) are not in the vocabulary and are read as "
              f"{vocab.unk!r}: {', '.join(map(repr, unknown[:20]))}", file=sys.stderr)
    write = lambda piece: print(piece, end="", flush=True)
    write(args.prompt)
    sample(model, vocab, args.prompt, tokens=args.tokens, temperature=args.temperature, top_k=args.top_k,
           top_p=args.top_p, greedy=args.greedy, seed=args.seed, beams=args.beams, on_text=write)
    print()
    return 0


def similar(args: argparse.Namespace, overrides: list[str]) -> int:
    from ..models.embeddings import analogy, nearest, plot_pca

    _no_overrides("similar", overrides)
    if len(args.words) not in ((0, 1, 3) if args.plot else (1, 3)):
        raise ValueError("give one WORD (nearest words) or three A B C (A : B :: C : ?), or --plot=PNG")
    model, vocab = load_language_model(args.run_dir)
    if args.words:
        found = nearest(model, vocab, args.words[0], k=args.k) if len(args.words) == 1 else \
            analogy(model, vocab, *args.words, k=args.k)
        for word, score in found:
            print(f"{score:7.4f}  {word}")
    if args.plot:
        print(f"wrote {plot_pca(model, vocab, args.plot, count=args.count)}")
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    """Adds the `generate` and `similar` subcommands to the rnnkit parser."""
    p = commands.add_parser("generate", help="sample text from a language model, or run an ESN closed loop",
                            epilog=EXAMPLES["generate"], description="Continue PROMPT with a trained language "
                            "model, streaming the text; or, for a chaotic_series run, free-run the echo state "
                            "network after a teacher-forced warm-up (values as CSV, a PNG against the truth).",
                            **kind)
    p.add_argument("run_dir", help="a language_modeling or chaotic_series run directory")
    p.add_argument("--prompt", default="", help="text to continue (default: start a new line)")
    p.add_argument("--tokens", type=int, default=200, help="how many tokens to generate")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", "--top_k", dest="top_k", type=int, default=0, help="sample from the k most likely")
    p.add_argument("--top-p", "--top_p", dest="top_p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--greedy", action="store_true", help="always take the most likely token")
    p.add_argument("--beams", type=int, default=1, help="beam search with this many beams (> 1)")
    p.add_argument("--seed", type=int, default=None, help="fix the sampling for a repeatable text; for a series, "
                   "draw a fresh one with this data seed (default: the run's test split)")
    p.add_argument("--steps", type=int, default=None, help="series: free-running steps (default: task.horizon)")
    p.add_argument("--warmup", type=int, default=None, help="series: teacher-forced steps first "
                   "(default: task.washout)")
    s = commands.add_parser("similar", help="nearest words, analogies and a PCA plot of the embeddings",
                            epilog=EXAMPLES["similar"], description="Query a language model's input embeddings.",
                            **kind)
    s.add_argument("run_dir", help="a language_modeling run directory")
    s.add_argument("words", nargs="*", help="WORD, or A B C for A : B :: C : ?")
    s.add_argument("-k", "--k", type=int, default=10, help="how many neighbours to list")
    s.add_argument("--plot", metavar="PNG", help="write a PCA plot of the most frequent tokens here")
    s.add_argument("--count", type=int, default=300, help="tokens in the plot")


def _no_overrides(command: str, overrides: list[str]) -> None:
    if overrides:
        raise ValueError(f"{command} takes no config overrides, got {' '.join(overrides)}")


COMMANDS = {"generate": generate, "similar": similar}
