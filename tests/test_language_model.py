"""LanguageModel, generation, embedding queries and the language-modelling task."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit import LSTMCell, Recurrent, Stacked
from rnnkit.data.text import Vocab, batchify_stream
from rnnkit.models.embeddings import analogy, nearest, pca_2d
from rnnkit.models.generate import filter_logits, generate, prompt_ids
from rnnkit.models.language_model import LanguageModel

TEXT = "to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n" * 3


def make_lm(vocab: Vocab, *, size: int = 8, tie: bool = False, **options) -> LanguageModel:
    rnn = Stacked([Recurrent(LSTMCell(size, size)), Recurrent(LSTMCell(size, size))], dropout=0.0)
    return LanguageModel(len(vocab), rnn, embedding_size=size, tie_weights=tie, **options)


def test_shapes_tying_and_saved_weights(tmp_path):
    # the vocabulary is saved in a run's meta.json now: tests/test_saved_runs_lm_esn.py checks it
    from safetensors.torch import load_model, save_model

    vocab = Vocab.build(TEXT, level="word")
    model = make_lm(vocab, tie=True)
    logits, state = model(torch.randint(len(vocab), (3, 5)))
    assert logits.shape == (3, 5, len(vocab)) and len(state) == 2
    assert model.tied and model.decoder.weight is model.embedding.weight
    save_model(model, str(tmp_path / "m.safetensors"))
    other = make_lm(vocab, tie=True)
    load_model(other, str(tmp_path / "m.safetensors"))
    tokens = torch.zeros(1, 2, dtype=torch.long)
    torch.testing.assert_close(other(tokens)[0], model(tokens)[0])


def test_bad_models():
    vocab = Vocab.build(TEXT, level="char")
    rnn = Stacked([Recurrent(LSTMCell(8, 16))])
    with pytest.raises(ValueError, match="tie_weights needs"):
        LanguageModel(len(vocab), rnn, embedding_size=8, tie_weights=True)
    with pytest.raises(ValueError, match="input_size=4"):
        LanguageModel(len(vocab), rnn, embedding_size=4)
    with pytest.raises(ValueError, match="vocabulary of 1,000,000,000 tokens"):
        LanguageModel(10**9, rnn, embedding_size=8)                # refused before allocating


def test_embedding_dropout_drops_whole_words():
    vocab = Vocab.build(TEXT, level="char")
    model = make_lm(vocab, embedding_dropout=0.5)
    tokens = torch.tensor([[3, 3, 4, 4, 3]])
    e = model.embed(tokens)
    dropped = (e == 0).all(-1)[0]
    assert torch.equal(dropped[[0, 1, 4]], dropped[[0, 0, 0]]) and dropped[2] == dropped[3]
    model.eval()
    torch.testing.assert_close(model.embed(tokens), model.embedding(tokens))


def test_uniform_init():
    model = make_lm(Vocab.build(TEXT, level="char"), init_range=0.1)
    assert all(p.abs().max() <= 0.1 for p in model.parameters())


def test_filter_logits():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)[0, 2:]).all()
    kept = torch.isfinite(filter_logits(logits, top_p=0.7))[0]
    assert kept.tolist() == [True, True, False, False]              # 0.5 < 0.7 <= 0.8
    torch.testing.assert_close(filter_logits(logits, temperature=0.5).exp().sum(), torch.tensor(1.0))


@pytest.mark.parametrize("level", ["char", "word"])
def test_generation_is_deterministic_under_a_seed(level):
    vocab = Vocab.build(TEXT, level=level)
    model = make_lm(vocab)
    pieces = []
    a = generate(model, vocab, "to be", tokens=30, seed=7, temperature=0.9, top_k=10, on_text=pieces.append)
    assert a == generate(model, vocab, "to be", tokens=30, seed=7, temperature=0.9, top_k=10)
    assert "".join(pieces) == a                                       # streamed pieces add up to the text
    assert a != generate(model, vocab, "to be", tokens=30, seed=8, temperature=0.9, top_k=10)
    assert generate(model, vocab, "to be", tokens=10, greedy=True) == generate(model, vocab, "to be",
                                                                              tokens=10, top_k=1, seed=3)


@pytest.mark.parametrize("level, start", [("char", "\n"), ("word", "<eos>")])
def test_prompts_are_read_after_the_start_of_text_token(level, start):
    # the zero state is seen only at the start of a training stream, so the prompt follows a
    # start-of-text token, as it does everywhere in the training text
    vocab = Vocab.build(TEXT, level=level)
    ids = prompt_ids(vocab, "to be")
    assert vocab.tokens[int(ids[0])] == start and ids[1:].tolist() == vocab.encode("to be").tolist()
    assert prompt_ids(vocab, "").tolist() == [vocab.index[start]]
    model = make_lm(vocab).eval()
    logits, _ = model(ids[None])
    first = vocab.tokens[int(logits[0, -1].argmax())]
    assert generate(model, vocab, "to be", tokens=1, greedy=True).strip() == first.strip()


def test_beam_search_beats_or_ties_greedy():
    vocab = Vocab.build(TEXT, level="char")
    model = make_lm(vocab).eval()

    def logprob(text: str) -> float:
        ids = prompt_ids(vocab, "to" + text)[None]                    # "\n", "t", "o", text...
        logits, _ = model(ids[:, :-1])
        return logits.log_softmax(-1)[0, 2:].gather(1, ids[0, 3:, None]).sum().item()

    greedy = generate(model, vocab, "to", tokens=6, greedy=True)
    beam = generate(model, vocab, "to", tokens=6, beams=4)
    assert len(beam) == 6 and logprob(beam) >= logprob(greedy) - 1e-5
    words = Vocab.build(TEXT, level="word")
    assert generate(make_lm(words), words, "to be", tokens=3, beams=2).startswith(" ")   # " word word word"


def test_embedding_queries():
    vocab = Vocab(["<unk>", "<eos>", "man", "king", "woman", "queen", "apple"], level="word")
    model = make_lm(vocab, size=2)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.tensor([[0.0, 0], [0, 0], [1, 0], [1, 1], [-1, 0], [-1, 1], [0, -1]]))
    assert nearest(model, vocab, "king", k=1)[0][0] in ("man", "queen")
    assert analogy(model, vocab, "man", "king", "woman", k=1)[0][0] == "queen"
    with pytest.raises(ValueError, match="'kingdom' is not in the vocabulary"):
        nearest(model, vocab, "kingdom")
    xy = pca_2d(torch.randn(10, 5))
    assert xy.shape == (10, 2) and torch.allclose(xy.mean(0), torch.zeros(2), atol=1e-5)


class Bigram(nn.Module):
    """A stateless model with fixed next-token probabilities P[x_t]: an exact hand calculation."""

    def __init__(self, probs: torch.Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(probs.log())

    def forward(self, tokens, state=None):
        count = 0 if state is None else state
        return self.logits[tokens], count + tokens.numel()


def test_perplexity_and_bpc_against_a_hand_calculation():
    from rnnkit.tasks.language_modeling import LanguageModeling

    probs = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    ids = torch.tensor([0, 1, 1, 2, 0, 0, 2, 2, 1, 0, 1])
    stream = batchify_stream(ids, 2)                                   # rows of 5: targets ids[1:11]
    nll = -sum(math.log(probs[a, b]) for a, b in zip(ids[:10].tolist(), ids[1:11].tolist()))
    model = Bigram(probs)
    metrics = LanguageModeling(level="char", eval_bptt=2).evaluate(model, [stream])
    assert metrics["bpc"] == pytest.approx(nll / 10 / math.log(2))
    assert metrics["ppl"] == pytest.approx(math.exp(nll / 10))
    assert list(LanguageModeling(path="ptb", eval_bptt=3).evaluate(model, [stream])) == ["ppl", "loss"]


def test_evaluation_carries_the_state_through_the_split():
    from rnnkit.tasks.language_modeling import LanguageModeling

    vocab = Vocab.build(TEXT, level="char")
    model = make_lm(vocab).eval()
    stream = batchify_stream(vocab.encode(TEXT)[:61], 3)
    with torch.no_grad():
        logits, _ = model(stream.inputs)                               # the whole split in one pass
        nll = nn.functional.cross_entropy(logits.flatten(0, 1), stream.targets.flatten()).item()
        chunked = LanguageModeling(eval_bptt=7).evaluate(model, [stream])
    assert chunked["loss"] == pytest.approx(nll, rel=1e-5)


def test_cli_train_eval_generate_similar(tmp_path, capsys):
    from rnnkit.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, repeat in (("train", 20), ("valid", 2), ("test", 2)):
        (corpus / f"{split}.txt").write_text(TEXT * repeat)
    config = tmp_path / "lm.toml"
    config.write_text(f"""out_dir = "{tmp_path / 'run'}"
[task]
name = "language_modeling"
path = "{corpus}"
level = "word"
batch_size = 4
eval_batch_size = 2
tie_weights = true
[model]
hidden_size = 16
num_layers = 2
[train]
iterations = 3
bptt = 5
plots = false
""")
    assert main(["train", str(config)]) == 0
    run = str(tmp_path / "run")
    assert main(["eval", run, "--split=test"]) == 0
    assert '"ppl"' in capsys.readouterr().out
    assert main(["generate", run, "--prompt=to be xyzzy", "--tokens=5", "--seed=1"]) == 0
    first = capsys.readouterr()
    assert "'xyzzy'" in first.err and first.out.startswith("to be xyzzy")   # says which words are unknown
    assert main(["generate", run, "--prompt=to be xyzzy", "--tokens=5", "--seed=1"]) == 0
    assert capsys.readouterr().out == first.out
    assert main(["similar", run, "question", "-k", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["similar", run, "unheard"]) == 2                    # a clear error, exit code 2
    assert "not in the vocabulary" in capsys.readouterr().err


def test_generate_refuses_another_task(tmp_path, capsys):
    from rnnkit.cli import main

    config = tmp_path / "adding.toml"
    config.write_text(f'out_dir = "{tmp_path / "run"}"\n[task]\nname = "adding"\ntrain_size = 8\nvalid_size = 4\n'
                      'test_size = 4\n[train]\niterations = 1\nbatch_size = 4\nplots = false\n')
    assert main(["train", str(config)]) == 0
    assert main(["generate", str(tmp_path / "run")]) == 2
    assert "'adding' run" in capsys.readouterr().err


def test_awd_lstm_recipe_is_config(tmp_path):
    """Weight drop, locked dropout, embedding dropout, tying, AR/TAR, random BPTT and NT-ASGD."""
    import rnnkit
    from rnnkit.runs.configs import load_config

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT * 30)
    cfg = load_config(None, [
        "--task.name=language_modeling", f"--task.path={corpus}", "--task.level=word", "--task.batch_size=4",
        "--task.eval_batch_size=2", "--task.tie_weights=true", "--task.embedding_dropout=0.1", "--task.ar=2.0",
        "--task.tar=1.0", "--model.hidden_size=12", "--model.num_layers=2", "--model.weight_drop=0.5",
        "--model.dropout=0.25", "--model.input_dropout=0.4", "--model.output_dropout=0.4",
        "--train.iterations=6", "--train.bptt=8", "--train.random_bptt=true", "--train.eval_every=2",
        "--train.plots=false", "--optim.name=ntasgd", "--optim.lr=5.0", "--optim.nonmono=1",
        f"--out_dir={tmp_path / 'run'}"])
    metrics = rnnkit.run(cfg)
    assert math.isfinite(metrics["ppl"]) and metrics["ppl"] < 2 * len(Vocab.build(TEXT, level="word"))
