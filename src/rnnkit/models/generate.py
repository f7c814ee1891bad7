"""Text generation from a LanguageModel: sampling (temperature, top-k, top-p) and beam search.

    text = generate(model, vocab, "ROMEO:", tokens=200, temperature=0.8, top_p=0.95, seed=1,
                    on_text=lambda s: print(s, end="", flush=True))      # streams as it samples

The prompt is read through the model once, then each sampled token is fed back with the
carried state, so a step costs one time step of the network. A prompt token outside the
vocabulary is read as the unknown token; `Vocab.unknown(prompt)` lists them (the CLI says which).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..data.text import EOS, Vocab
from .language_model import LanguageModel


def filter_logits(logits: Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """(B, V) logits -> log-probabilities after temperature, top-k (keep the k most likely) and
    top-p (keep the smallest set whose probability reaches p; Holtzman et al. 2020); removed
    tokens get -inf."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (for the most likely token use --greedy / greedy=True), "
                         f"got {temperature}")
    if top_k < 0 or not 0 < top_p <= 1:
        raise ValueError(f"need top_k >= 0 and 0 < top_p <= 1, got top_k={top_k}, top_p={top_p}")
    logits = logits.float() / temperature
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[..., -1:]                        # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs >= top_p            # tokens after the nucleus is complete
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits.log_softmax(-1)


def prompt_ids(vocab: Vocab, prompt: str) -> Tensor:
    """The start-of-text token ("\\n" for characters and BPE, <eos> for words) followed by the
    prompt's ids. Training streams reach the zero state only once per epoch, at the very start,
    so a network primed from zero on a bare "ROMEO:" reads it as noise (measured: the 10-minute
    Shakespeare model then gives digits 5% each); after a line break the same prompt is read as
    a speaker and the next token is "\\n" with p = 0.99."""
    start = EOS if vocab.level == "word" else "\n"
    if vocab.level == "bpe":
        head = vocab.encode(start)
    else:
        head = torch.tensor([vocab.index.get(start, 0)])
    return torch.cat([head, vocab.encode(prompt)]) if prompt else head


@torch.no_grad()
def generate(model: LanguageModel, vocab: Vocab, prompt: str = "", *, tokens: int = 100,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, greedy: bool = False,
             seed: int | None = None, beams: int = 1,
             on_text: Callable[[str], None] | None = None) -> str:
    """`tokens` new tokens after `prompt`, as text (without the prompt). `on_text` receives
    each piece of text as soon as it is sampled. `beams > 1` runs beam search instead of
    sampling (deterministic; the text arrives in one piece at the end)."""
    if tokens < 0 or beams < 1:
        raise ValueError(f"need tokens >= 0 and beams >= 1, got tokens={tokens}, beams={beams}")
    if len(vocab) != model.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} tokens but the model {model.vocab_size}: "
                         "they come from different runs")
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        ids = prompt_ids(vocab, prompt).to(device)[None]                          # (1, P)
        logits, state = model(ids)
        last = logits[:, -1]                                                      # (1, V)
        stream = TextStream(vocab, first=not prompt or prompt[-1].isspace(), on_text=on_text)
        if beams > 1:
            for i in beam_search(model, last, state, beams=beams, tokens=tokens):
                stream.add(i)
            return stream.finish()
        generator = torch.Generator(device=device)
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
        for _ in range(tokens):
            if greedy:
                nxt = last.argmax(-1, keepdim=True)                               # (1, 1)
            else:
                logp = filter_logits(last, temperature=temperature, top_k=top_k, top_p=top_p)
                nxt = torch.multinomial(logp.exp(), 1, generator=generator)       # (1, 1)
            stream.add(int(nxt))
            logits, state = model(nxt, state)
            last = logits[:, -1]
        return stream.finish()
    finally:
        model.train(was_training)


class TextStream:
    """Turns ids into text pieces as they arrive. BPE pieces are emitted as the growing
    decoded suffix, so multi-byte characters never print half-decoded."""

    def __init__(self, vocab: Vocab, *, first: bool, on_text: Callable[[str], None] | None) -> None:
        self.vocab, self.first, self.on_text = vocab, first, on_text
        self.ids: list[int] = []
        self.text = ""

    def add(self, i: int) -> None:
        self.ids.append(i)
        if self.vocab.level == "bpe":
            decoded = self.vocab.decode(self.ids)
            if decoded.endswith("\ufffd"):
                return                                    # wait for the rest of the character
            piece, self.text = decoded[len(self.text):], decoded
        else:
            piece = self.vocab.decode_token(i, first=self.first)
            self.first = self.vocab.level == "word" and self.vocab.tokens[i] == EOS
            self.text += piece
        if self.on_text and piece:
            self.on_text(piece)

    def finish(self) -> str:
        if self.vocab.level == "bpe":
            decoded = self.vocab.decode(self.ids)
            if self.on_text and decoded[len(self.text):]:
                self.on_text(decoded[len(self.text):])
            self.text = decoded
        return self.text


def beam_search(model: LanguageModel, logits: Tensor, state: tuple, *, beams: int, tokens: int) -> list[int]:
    """The most likely continuation of `tokens` ids found by a beam of width `beams`.
    logits: (1, V) for the next token; state: the model state after the prompt."""
    scores = logits.log_softmax(-1)[0]                                            # (V,)
    top = scores.topk(min(beams, scores.numel()))
    seqs, totals = top.indices[:, None], top.values                              # (K, 1), (K,)
    state = _repeat(state, seqs.size(0))
    for _ in range(tokens - 1):
        logits, state = model(seqs[:, -1:], state)
        cand = totals[:, None] + logits[:, -1].log_softmax(-1)                    # (K, V)
        best = cand.flatten().topk(min(beams, cand.numel()))
        rows, cols = best.indices // cand.size(1), best.indices % cand.size(1)
        seqs = torch.cat([seqs[rows], cols[:, None]], dim=1)
        totals = best.values
        state = _select(state, rows)
    return seqs[totals.argmax()].tolist()[:tokens]


def _repeat(state, k: int):
    if isinstance(state, Tensor):
        return state.expand(k, *state.shape[1:]).contiguous()
    return tuple(_repeat(s, k) for s in state)


def _select(state, rows: Tensor):
    if isinstance(state, Tensor):
        return state[rows]
    return tuple(_select(s, rows) for s in state)
