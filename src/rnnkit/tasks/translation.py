"""Translation: sentence pairs -> an attention encoder-decoder (see models/seq2seq.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from torch import nn

from ..config import ModelConfig, build_rnn
from ..layers import AdditiveAttention, MultiplicativeAttention
from ..models.seq2seq import Decoder, Encoder, Seq2Seq

ATTENTIONS: dict[str, str] = {
    "none": "Sutskever et al. 2014: the decoder sees only the bridged final encoder state",
    "additive": "Bahdanau et al. 2015: v^T tanh(W_k k + W_q s_{t-1}), the context is an rnn input",
    "dot": "Luong et al. 2015: s_t^T k (needs encoder output size == decoder hidden size)",
    "general": "Luong et al. 2015: s_t^T W k",
}


def build_seq2seq(cfg: ModelConfig, source_vocab_size: int, target_vocab_size: int, *, embedding_size: int,
                  attention: str, input_feeding: bool = False, tie_weights: bool = False, attention_size: int = 0,
                  dropout: float = 0.0, bos: int | None = None, eos: int | None = None) -> Seq2Seq:
    """The model `cfg` describes: its cell, sizes and regularisers for both rnns; the encoder is
    bidirectional when cfg.bidirectional. `bos` and `eos` default to the last two target ids."""
    if attention not in ATTENTIONS:
        raise ValueError(f"unknown attention {attention!r}; choose one of {sorted(ATTENTIONS)}")
    encoder = Encoder(source_vocab_size, build_rnn(cfg, embedding_size), embedding_size=embedding_size,
                      dropout=cfg.input_dropout)
    memory, hidden = encoder.output_size, cfg.hidden_size
    make: dict[str, Callable[[], nn.Module | None]] = {
        "none": lambda: None,
        "additive": lambda: AdditiveAttention(memory, attention_size or hidden, query_size=hidden),
        "dot": lambda: MultiplicativeAttention(memory, hidden, general=False),
        "general": lambda: MultiplicativeAttention(memory, hidden, general=True),
    }
    module = make[attention]()
    inputs = embedding_size + memory * (attention == "additive") + hidden * input_feeding
    decoder_rnn = build_rnn(dataclasses.replace(cfg, bidirectional=False), inputs)
    decoder = Decoder(target_vocab_size, decoder_rnn, embedding_size=embedding_size, memory_size=memory,
                      summary_size=memory, attention=module, input_feeding=input_feeding, tie_weights=tie_weights,
                      dropout=dropout)
    bos = target_vocab_size - 2 if bos is None else bos
    return Seq2Seq(encoder, decoder, bos=bos, eos=target_vocab_size - 1 if eos is None else eos)
