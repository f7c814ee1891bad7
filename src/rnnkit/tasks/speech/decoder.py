"""From log-probabilities to text for a speech run, and one pass over a split that the task's
`evaluate` and `rnnkit transcribe --split` share: references, greedy and beam transcripts, each
utterance's log-probabilities and the summed CTC loss.

    decoder = build_decoder(meta, task)            # the run's alphabet; lexicon and word lm for beam search
    found = transcribe_batches(model, batches, decoder, beam=8)     # found.refs, found.greedy, found.beam
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ...data.alphabet import Alphabet
from ...data.batch import Batch
from ...models.ctc_decode import CTCDecoder
from ...models.word_lm import Lexicon, WordNGram
from ..base import Meta


def build_decoder(meta: Meta, task: Any) -> CTCDecoder:
    """The run's alphabet; with the task's lm_order and lexicon, a word n-gram and a lexicon of
    the training transcripts the run kept (meta["train_texts"], kept when task.beam > 0)."""
    texts = meta.get("train_texts") or []
    lm = WordNGram.train(texts, order=task.lm_order) if task.lm_order and texts else None
    lexicon = Lexicon.from_words(w for t in texts for w in t.split()) if task.lexicon and texts else None
    return CTCDecoder(Alphabet(meta["characters"]), lm, lexicon, task.lm_alpha, task.lm_beta)


@dataclass
class Transcripts:
    """A split transcribed: per utterance its reference, greedy and (with beam > 0) beam
    transcripts and log-probabilities (T', C); `nll` is the sum of the utterances' CTC losses."""

    refs: list[str] = field(default_factory=list)
    greedy: list[str] = field(default_factory=list)
    beam: list[str] = field(default_factory=list)
    log_probs: list[Tensor] = field(default_factory=list)
    nll: float = 0.0


def transcribe_batches(model: nn.Module, batches: Iterable[Batch], decoder: CTCDecoder, beam: int = 0) -> Transcripts:
    """Every utterance of `batches` through `model` (call it under no_grad, in eval mode)."""
    out = Transcripts()
    for batch in batches:
        x, lengths, targets, target_lengths = trimmed(batch)
        log_probs, _ = model(x, None, lengths)                                      # (B, T', C)
        out_lengths = model.output_lengths(lengths)
        out.nll += float(ctc_loss(log_probs, targets, out_lengths, target_lengths).sum())
        for row, n, target, s in zip(log_probs, out_lengths.tolist(), targets, target_lengths.tolist()):
            out.refs.append(decoder.alphabet.decode(target[:s].tolist()))
            out.log_probs.append(row[:n])
            out.greedy.append(decoder.text(row[:n]))
            if beam:
                out.beam.append(decoder.text(row[:n], beam))
    return out


def ctc_loss(log_probs: Tensor, targets: Tensor, out_lengths: Tensor, target_lengths: Tensor) -> Tensor:
    """(B,) CTC negative log-likelihoods, each divided by its transcript length (torch's "mean"
    before the batch average). log_probs (B, T', C), targets (B, S) padded with the blank."""
    nll = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0, reduction="none",
                     zero_infinity=False)                                       # (T', B, C) in
    return nll / target_lengths.clamp_min(1).to(nll.dtype)


def trimmed(batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(features cut to the batch's longest utterance, lengths, targets cut likewise, target
    lengths). A bucketed batch (K, B, ...) is flattened to K B rows and its filler rows (0 frames)
    dropped first."""
    x, n, y, m = batch.inputs, batch.lengths, batch.targets, batch.target_lengths
    if n.dim() == 2:
        real = n.flatten() > 0
        x, n, y, m = x.flatten(0, 1)[real], n.flatten()[real], y.flatten(0, 1)[real], m.flatten()[real]
    return x[:, :int(n.max())], n, y[:, :int(m.max())], m
