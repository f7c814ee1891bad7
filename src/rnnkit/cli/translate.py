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

import torch

from ..data.pairs import encode_side, note, token_ids
from ..data.text import Vocab
from ..models.decode import Decoded, beam_search
from ..models.seq2seq import Seq2Seq
from ..tasks import build_task
from ..tasks.translation.task import detokenize

EXAMPLES = """examples:
  rnnkit train configs/translate_dates.toml
  rnnkit translate runs/translate_dates "Donnerstag, 4. März 2021"
  rnnkit translate runs/translate_bible_luong --file=verses.en --beam=5 > verses.es
  rnnkit translate runs/translate_bible_luong --file=verses.en --reference=verses.es
  rnnkit translate runs/translate_bible_luong --split=test --beam=5
  rnnkit translate runs/translate_dates "4 mars 2021" --heatmap=map.png
  rnnkit translate runs/translate_bible_luong "In the beginning" --target="En el principio" --heatmap=map.png"""
BATCH = 64


def load_translator(run_dir: str | Path) -> tuple[object, Seq2Seq, dict]:
    """(config, model in eval mode on the CPU, meta with both vocabularies) of a translation
    run, without its data."""
    from ..runs import read_saved_run
    from ..train.checkpoint import load_weights

    cfg, blob = read_saved_run(run_dir, ("translation",), "translate", "meta_json")
    meta = json.loads(blob.numpy().tobytes().decode("utf-8"))
    model = load_weights(build_task(cfg.task).model_for(cfg.model, meta), run_dir)
    return cfg, model.eval(), meta


def translate(model: Seq2Seq, meta: dict, texts: Sequence[str], *, beam: int = 5, alpha: float = 0.6,
              max_length: int = 0) -> tuple[list[str], Decoded]:
    """Translations of non-empty `texts` in batches of similar length. Unknown source tokens are
    read as the unknown token and listed in a note; sides longer than the run's max_length are
    cut to it (counted); outputs cut by the max-length guard are counted."""
    source = Vocab.from_dict(meta["source_vocab"])
    target = Vocab.from_dict(meta["target_vocab"])
    unknown = list(dict.fromkeys(t for text in texts for t in source.unknown(text)))
    if unknown:
        note(f"{len(unknown)} source token(s) are not in the vocabulary and are read as {source.unk!r}: "
             f"{', '.join(map(repr, unknown[:20]))}")
    ids = encode_side(texts, source, meta["max_length"], where="input ")
    if not ids:
        return [], Decoded([], [], [], [])
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    results: dict[int, tuple[list[int], float, torch.Tensor, bool]] = {}
    for start in range(0, len(order), BATCH):
        rows = order[start:start + BATCH]
        x = torch.nn.utils.rnn.pad_sequence([ids[i] for i in rows], batch_first=True)
        lengths = torch.tensor([len(ids[i]) for i in rows])
        out = beam_search(model, x, lengths, beam=beam, alpha=alpha, max_length=max_length or meta["max_length"] + 1)
        for k, i in enumerate(rows):
            results[i] = (out.tokens[k], out.scores[k], out.weights[k], out.finished[k])
    decoded = Decoded(*(list(column) for column in zip(*(results[i] for i in range(len(ids))))))
    cut = decoded.finished.count(False)
    if cut:
        note(f"{cut} output(s) reached the maximum length before ending; raise --max-length to let them finish")
    return [detokenize(target, t) for t in decoded.tokens], decoded


def forced_attention(model: Seq2Seq, meta: dict, source_text: str, target_text: str) -> torch.Tensor:
    """Attention weights (S + 1, T) of the model reading `target_text` as its output (teacher forcing)."""
    source, target = Vocab.from_dict(meta["source_vocab"]), Vocab.from_dict(meta["target_vocab"])
    x = encode_side([source_text], source, meta["max_length"], where="input ")[0]
    y = encode_side([target_text], target, meta["max_length"], where="target ")[0]
    inputs = torch.cat([torch.tensor([model.bos]), y])[None]
    with torch.no_grad():
        _, weights = model(x[None], torch.tensor([len(x)]), inputs)
    return weights[0]


def pieces(vocab: Vocab, text: str, max_length: int) -> list[str]:
    """The tokens of `text` as the model reads them, each decoded to readable text."""
    return [vocab.decode([i]) if vocab.level == "bpe" else vocab.tokens[i]
            for i in token_ids(vocab, text)[:max_length].tolist()]


def heatmap(args: argparse.Namespace, model: Seq2Seq, meta: dict, output: str) -> None:
    from ..plots.translate import plot_attention

    source, target = Vocab.from_dict(meta["source_vocab"]), Vocab.from_dict(meta["target_vocab"])
    target_text = args.target if args.target is not None else output
    weights = forced_attention(model, meta, args.text, target_text)
    rows = [*pieces(target, target_text, meta["max_length"]), "</s>"]
    png = plot_attention(weights, pieces(source, args.text, meta["max_length"]), rows, args.heatmap,
                         title=f"{args.text[:60]} -> {target_text[:60]}")
    print(f"wrote {png}", file=sys.stderr)


def command(args: argparse.Namespace, overrides: list[str]) -> int:
    if overrides:
        raise ValueError(f"translate takes no config overrides, got {' '.join(overrides)}")
    if sum(x is not None for x in (args.text, args.file, args.split)) != 1:
        raise ValueError("give exactly one of TEXT, --file=PATH (one sentence per line) or --split=valid|test")
    if (args.heatmap or args.target is not None) and args.text is None:
        raise ValueError("--heatmap and --target draw one sentence pair: give TEXT")
    cfg, model, meta = load_translator(args.run_dir)
    references = None
    if args.split is not None:
        pairs = build_task(cfg.task).raw().get(args.split)
        if not pairs:
            raise ValueError(f"this run's data has no {args.split} split")
        texts, references = [s for s, _ in pairs], [t for _, t in pairs]
    elif args.file is not None:
        texts = Path(args.file).read_text(encoding="utf-8").splitlines()
        if args.reference is not None:
            references = Path(args.reference).read_text(encoding="utf-8").splitlines()
            if len(references) != len(texts):
                raise ValueError(f"{args.file} has {len(texts)} lines but {args.reference} {len(references)}")
    else:
        texts = [args.text]
    full = [i for i, t in enumerate(texts) if t.strip()]
    if len(full) < len(texts):
        note(f"{len(texts) - len(full)} empty line(s) give empty output lines")
    outputs, _ = translate(model, meta, [texts[i] for i in full], beam=args.beam, alpha=args.alpha,
                           max_length=args.max_length)
    lines = [""] * len(texts)
    for i, text in zip(full, outputs):
        lines[i] = text
    print("\n".join(lines))
    if references is not None:                     # empty input lines are not scored
        score([lines[i] for i in full], [references[i] for i in full])
    if args.heatmap:
        heatmap(args, model, meta, outputs[0] if outputs else "")
    return 0


def score(outputs: Sequence[str], references: Sequence[str]) -> None:
    from ..tasks.translation.metrics import signatures, text_metrics

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
