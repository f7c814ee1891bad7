"""Log-probabilities of one utterance -> text: greedy, or prefix beam search with a speech run's
lexicon and word lm (models/ctc_decode.py, models/word_lm.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from ...data.alphabet import Alphabet

if TYPE_CHECKING:
    from .task import SpeechRecognition


class Decoder:
    """Log-probabilities (T, C) of one utterance -> its text (and each character's frame), greedy
    or with the run's beam search settings."""

    def __init__(self, meta: dict, task: SpeechRecognition) -> None:
        from ...models.word_lm import Lexicon, WordNGram

        self.alphabet = Alphabet(meta["characters"])
        texts = meta.get("train_texts") or []
        self.lm = WordNGram.train(texts, order=task.lm_order) if task.lm_order and texts else None
        self.lexicon = Lexicon.from_words(w for t in texts for w in t.split()) if task.lexicon and texts else None
        self.alpha, self.beta = task.lm_alpha, task.lm_beta

    def pairs(self, log_probs: Tensor, beam: int = 0) -> list[tuple[int, int]]:
        """(character id, frame) of each output character."""
        from ...models.ctc_decode import greedy_decode, prefix_beam_search

        if not beam:
            return greedy_decode(log_probs)
        return prefix_beam_search(log_probs, beam, alphabet=self.alphabet, lm=self.lm, alpha=self.alpha,
                                  beta=self.beta, lexicon=self.lexicon)

    def text(self, log_probs: Tensor, beam: int = 0) -> str:
        return " ".join(self.alphabet.decode([c for c, _ in self.pairs(log_probs, beam)]).split())
