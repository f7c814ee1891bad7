"""Translations of a translation run: sentences in, the model's outputs as text, by the batched
greedy or beam-search decoding of models/decode.py (what evaluation uses too).

    run = rnnkit.load("runs/translate_bible_luong")
    run.predict(["In the beginning God created the heaven and the earth."], beam=5)
    sources, outputs, weights = run.predictor.attention("4 mars 2021", "2021-03-04")   # for a heat map
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ...data.pairs import encode_side, note, token_ids
from ...data.text import Vocab
from ...models.decode import decode_all
from ...models.seq2seq import Seq2Seq


def detokenize(vocab: Vocab, ids: list[int]) -> str:
    """Target ids -> text; bos/eos (ids past the vocabulary) are dropped."""
    return vocab.decode([i for i in ids if i < len(vocab)]).strip()


def target_vocab(model: nn.Module) -> Vocab:
    """The target vocabulary a translation model was built with (by the task's build_model)."""
    core = getattr(model, "module", model)             # the loop may hand over a DDP wrapper
    vocab = core.target_vocab if isinstance(core, Seq2Seq) else None
    if vocab is None:
        raise ValueError("this model has no target vocabulary to read its outputs with; build it with "
                         "Translation.build_model(cfg, task.describe(data))")
    return vocab


def pieces(vocab: Vocab, text: str, max_length: int) -> list[str]:
    """The tokens of `text` as the model reads them, each decoded to readable text."""
    return [vocab.decode([i]) if vocab.level == "bpe" else vocab.tokens[i]
            for i in token_ids(vocab, text)[:max_length].tolist()]


class TranslationPredictor:
    """Sentences -> translations with the run's vocabularies. Unknown source tokens are read as
    the unknown token (listed in a note), sentences longer than the run's max_length are cut to
    it (counted), and blank sentences give empty outputs."""

    def __init__(self, model: Seq2Seq, source: Vocab, target: Vocab, *, max_length: int) -> None:
        self.model, self.source, self.target, self.max_length = model, source, target, max_length

    def predict(self, sentences: Sequence[str], *, beam: int = 5, alpha: float = 0.6,
                max_length: int = 0) -> list[str]:
        """One translation per sentence, in order. `beam`: width (1 = greedy); `alpha`: GNMT
        length normalisation (0 = none); `max_length`: most output tokens (0: the run's
        task.max_length + 1)."""
        if isinstance(sentences, str):
            raise TypeError("predict takes a list of sentences; wrap one sentence in a list: predict([text])")
        full = [i for i, text in enumerate(sentences) if text.strip()]
        texts = [sentences[i] for i in full]
        unknown = list(dict.fromkeys(t for text in texts for t in self.source.unknown(text)))
        if unknown:
            note(f"{len(unknown)} source token(s) are not in the vocabulary and are read as {self.source.unk!r}: "
                 f"{', '.join(map(repr, unknown[:20]))}")
        ids = encode_side(texts, self.source, self.max_length, where="input ")
        out = decode_all(self.model, ids, beam=beam, alpha=alpha, max_length=max_length or self.max_length + 1)
        cut = out.finished.count(False)
        if cut:
            note(f"{cut} output(s) reached the maximum length before ending; raise --max-length to let them finish")
        outputs = [""] * len(sentences)
        for i, tokens in zip(full, out.tokens):
            outputs[i] = detokenize(self.target, tokens)
        return outputs

    def attention(self, source_text: str, target_text: str) -> tuple[list[str], list[str], Tensor]:
        """(source tokens, target tokens and "</s>", attention weights (S + 1, T)) of the model
        reading `target_text` as its output (teacher forcing)."""
        x = encode_side([source_text], self.source, self.max_length, where="input ")[0]             # (T,)
        y = encode_side([target_text], self.target, self.max_length, where="target ")[0]            # (S,)
        inputs = torch.cat([torch.tensor([self.model.bos]), y])[None]                                 # (1, S + 1)
        with torch.no_grad():
            _, weights = self.model(x[None], torch.tensor([len(x)]), inputs)                         # (1, S + 1, T)
        rows = [*pieces(self.target, target_text, self.max_length), "</s>"]
        return pieces(self.source, source_text, self.max_length), rows, weights[0]
