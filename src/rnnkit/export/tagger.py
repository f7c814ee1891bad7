"""The tagger's graph: word and character ids in, per-word tag scores out, and under a CRF the
Viterbi path as well, so a caller of the ONNX file gets tags without writing a decoder.

The character BiLSTM runs unpacked here (packed sequences do not export): the forward direction
reads each word's characters and its state after the last one is taken; the backward direction
reads them reversed within each word's length, so padding is never read first (eager packs them:
the same numbers). A CRF tagger has no streaming form: its best path reads the whole sentence.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models.tagger import PAD, CharEncoder, SequenceTagger
from .base import Graph, Port, dtype_name
from .errors import ExportError
from .recurrence import script


class CharGraph(nn.Module):
    """chars (N, C) int64, 0-padded -> (N, 2 H): a CharEncoder's final states, without packing."""

    def __init__(self, encoder: CharEncoder) -> None:
        super().__init__()
        lstm = encoder.lstm
        self.embedding = encoder.embedding
        self.forward_lstm, self.backward_lstm = (nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True)
                                                 for _ in range(2))
        with torch.no_grad():
            for direction, suffix in ((self.forward_lstm, ""), (self.backward_lstm, "_reverse")):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(direction, f"{name}_l0").copy_(getattr(lstm, f"{name}_l0{suffix}"))

    def forward(self, chars: Tensor) -> Tensor:
        n = (chars != PAD).sum(1).clamp_min(1)                                 # (N,)
        x = self.embedding(chars)                                              # (N, C, E)
        steps = torch.arange(chars.size(1), device=chars.device)[None]         # (1, C)
        # each word's characters reversed within its length; the padding after it stays in place
        back = torch.where(steps < n[:, None], n[:, None] - 1 - steps, steps)  # (N, C)
        reversed_x = x.gather(1, back.unsqueeze(2).expand(-1, -1, x.size(2)))
        rows, last = torch.arange(chars.size(0), device=chars.device), n - 1
        forward_y, _ = self.forward_lstm(x)                                    # (N, C, H)
        backward_y, _ = self.backward_lstm(reversed_x)
        return torch.cat([forward_y[rows, last], backward_y[rows, last]], dim=1)   # (N, 2 H)


class Viterbi(nn.Module):
    """emissions (B, L, T), lengths (B,) -> the best tag ids (B, L), -1 past each row's length, as
    CRF.viterbi computes them (disallowed transitions at -inf). Scripted: the loops stay loops."""

    def __init__(self, start: Tensor, transitions: Tensor, end: Tensor) -> None:
        super().__init__()
        self.register_buffer("start", start)
        self.register_buffer("transitions", transitions)
        self.register_buffer("end", end)

    def forward(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        steps, tags = emissions.size(1), emissions.size(2)
        mask = torch.arange(steps, device=emissions.device).unsqueeze(0) < lengths.unsqueeze(1)   # (B, L)
        best = self.start + emissions[:, 0]                                    # (B, T)
        stay = torch.arange(tags, device=emissions.device).unsqueeze(0).expand(emissions.size(0), tags)
        pointers: list[Tensor] = []
        for t in range(1, steps):
            moved, previous = (best.unsqueeze(2) + self.transitions).max(dim=1)   # (B, T, T) -> (B, T)
            keep = mask[:, t].unsqueeze(1)
            best = torch.where(keep, moved + emissions[:, t], best)
            pointers.append(torch.where(keep, previous, stay))              # padding points to itself
        tag = (best + self.end).argmax(dim=1)                                  # (B,)
        path: list[Tensor] = [tag]
        for i in range(len(pointers)):
            tag = pointers[len(pointers) - 1 - i].gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        best_path = torch.flip(torch.stack(path, dim=1), [1])                  # (B, L)
        return best_path.masked_fill(~mask, -1)


class TaggerGraph(Graph):
    """tokens (B, T, 1 + C) int64 (each word's id, then its characters' ids) -> scores (B, T, K),
    and with a CRF tags (B, T) int64 (the Viterbi path, -1 past each row's length)."""

    def __init__(self, model: SequenceTagger, *, streaming: bool, dtype: torch.dtype) -> None:
        if streaming and model.crf is not None:
            raise ExportError("a CRF tagger has no streaming export (its best path reads the whole sentence); "
                              "export it without --streaming")
        super().__init__(model.rnn, model.rnn.input_size, streaming=streaming, dtype=dtype)
        self.model = model
        self.vocab = model.embedding.num_embeddings
        self.chars = CharGraph(model.chars) if model.chars is not None else None
        self.viterbi = None
        if model.crf is not None:
            start, transitions, end = model.crf.scores(disallowed=-torch.inf)
            self.viterbi = script(Viterbi(start.detach(), transitions.detach(), end.detach()))

    def forward(self, tokens: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        words = tokens[:, :, 0]                                                # (B, T)
        x = self.model.embedding(words)                                        # (B, T, E)
        if self.chars is not None:
            chars = tokens[:, :, 1:]
            spelled = self.chars(chars.reshape(-1, chars.size(2))).view(words.size(0), words.size(1), -1)
            x = torch.cat([x, spelled * (words != PAD).unsqueeze(2).to(x.dtype)], dim=2)   # eager: 0 on padding
        y, s = self.loop(x.to(self.dtype), lengths, self.initial(tokens, state))   # (B, T, H)
        scores = self.model.head(y)                                            # (B, T, K)
        if self.viterbi is None:
            return (scores, *self.split(s))
        return (scores, self.viterbi(scores, lengths), *self.split(s))

    def inputs(self) -> list[Port]:
        # 1 + C: C (the run's task.max_chars, in meta.json) is free here, so the axis is named
        return [Port("tokens", "int64", ("batch", "time", "width" if self.chars is not None else 1))]

    def outputs(self) -> list[Port]:
        ports = [Port("scores", dtype_name(self.dtype), ("batch", "time", self.model.num_tags))]
        if self.viterbi is not None:
            ports.append(Port("tags", "int64", ("batch", "time")))
        return ports

    def example_inputs(self, batch: int, steps: int, seed: int) -> tuple[Tensor, ...] | None:
        """Word ids below the vocabulary, each word 1..C characters (0-padded), lengths steps..1."""
        generator = torch.Generator().manual_seed(seed)
        words = torch.randint(1, max(self.vocab, 2), (batch, steps, 1), generator=generator)
        if self.chars is None:
            tokens = words
        else:
            C, alphabet = 5, self.model.chars.embedding.num_embeddings
            chars = torch.randint(1, max(alphabet, 2), (batch, steps, C), generator=generator)
            count = torch.randint(1, C + 1, (batch, steps, 1), generator=generator)
            tokens = torch.cat([words, chars.masked_fill(torch.arange(C) >= count, PAD)], dim=2)
        lengths = torch.linspace(steps, 1, batch).round().long().clamp_min(min(1, steps))
        return (tokens, lengths, *(torch.zeros(batch, s.stop - s.start, dtype=self.dtype) for s in self.slots
                                   if self.streaming))
