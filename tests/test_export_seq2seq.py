"""The translation model exports as two graphs: the encoder gives what `Seq2Seq.encode` gives and a
decoder step what `Decoder.step` gives (ONNX through onnxruntime, TorchScript through
torch.jit.load), on padded batches of other sizes than the export example's; a trained run's two
ONNX files, driven by a greedy loop written here with onnxruntime alone, translate as the run does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.config import ModelConfig
from rnnkit.data.text import Vocab
from rnnkit.export import graphs_of, run_file
from rnnkit.export.writers import example, to_onnx, to_torchscript
from rnnkit.models.decode import decode_all
from rnnkit.tasks.translation.task import build_seq2seq

onnxruntime = pytest.importorskip("onnxruntime")

TOL = 1e-5
KINDS = ["onnx", "torchscript"]
MODELS = {                              # cell, encoder layers and direction, attention, input feeding
    "none": dict(cell="lstm", num_layers=2, attention="none"),
    "additive_feeding": dict(cell="gru", num_layers=1, attention="additive", input_feeding=True),
    "general": dict(cell="lstm", num_layers=1, attention="general", zoneout_h=0.1),
    "dot": dict(cell="gru", num_layers=2, attention="dot", input_feeding=True),
    "bidirectional": dict(cell="lstm", num_layers=2, bidirectional=True, attention="additive", input_feeding=True),
}
SOURCE_VOCAB, TARGET_VOCAB = 11, 9


def translator(settings: dict):
    torch.manual_seed(0)
    settings = dict(settings)
    attention, feeding = settings.pop("attention"), settings.pop("input_feeding", False)
    cfg = ModelConfig(hidden_size=6, **settings)
    return build_seq2seq(cfg, SOURCE_VOCAB, TARGET_VOCAB, embedding_size=5, attention=attention,
                         input_feeding=feeding).eval()


def export(graph, kind: str, path: Path) -> Path:
    (to_onnx if kind == "onnx" else to_torchscript)(graph, path, example(graph))
    return path


def flat(state) -> list[np.ndarray]:
    """A decoder state (per-layer states, h~) as the graphs' state tensors, in slot order."""
    states, feed = state
    return [s.numpy() for layer in states for s in layer], feed.numpy()


def differ(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    assert [g.shape for g in got] == [w.shape for w in want]
    return max(float(np.abs(g - w).max()) for g, w in zip(got, want))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_encoder_and_decoder_steps_equal_the_eager_model_on_padded_batches(name, kind, tmp_path):
    model = translator(MODELS[name])
    parts = graphs_of(model)
    encoder, step = parts["encoder"], parts["decoder_step"]
    feeds, projects = model.decoder.input_feeding, "projected" in [p.name for p in encoder.outputs()]
    assert projects == (name not in ("none", "dot"))
    assert [s.name for s in step.slots] == [s.name for s in encoder.slots]
    assert (step.slots[-1].name == "feed") == feeds
    encoder_file = export(encoder, kind, tmp_path / f"encoder.{kind}")
    step_file = export(step, kind, tmp_path / f"step.{kind}")
    g = torch.Generator().manual_seed(3)
    source, lengths = torch.randint(0, SOURCE_VOCAB, (4, 9), generator=g), torch.tensor([9, 6, 1, 4])
    got = run_file(encoder_file, kind, (source, lengths), ["source", "lengths"])
    with torch.no_grad():
        memory, state = model.encode(source, lengths)
    rnn_state, feed = flat(state)
    want = [memory.keys.numpy(), *([memory.projected.numpy()] if projects else []), *rnn_state,
            *([feed] if feeds else [])]
    assert differ(got, want) <= TOL
    memory_inputs = [torch.from_numpy(t) for t in got[:1 + projects]]
    file_state = [torch.from_numpy(t) for t in got[1 + projects:]]
    names = [p.name for p in step.input_ports()]
    for _ in range(3):                 # chained steps: feed and the attention then differ from the start's
        token = torch.randint(0, TARGET_VOCAB, (4,), generator=g)
        logits, weights, *file_state = run_file(step_file, kind, (token, *memory_inputs, lengths, *file_state), names)
        with torch.no_grad():
            want_logits, state, want_weights = model.decode_step(token, state, memory)
        rnn_state, feed = flat(state)
        want = [want_logits.numpy(), want_weights.numpy(), *rnn_state, *([feed] if feeds else [])]
        assert differ([logits, weights, *file_state], want) <= TOL
        file_state = [torch.from_numpy(t) for t in file_state]
    assert np.all(weights[lengths.numpy()[:, None] <= np.arange(9)[None]] == 0)     # never on padding


def greedy_onnx(encoder: Path, step: Path, sources: list[torch.Tensor], bos: int, eos: int,
                max_length: int) -> list[list[int]]:
    """Greedy decoding of one padded batch with the two ONNX files: the encoder once, then the
    decoder step until every row has emitted eos or max_length steps have run."""
    encode = onnxruntime.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
    decode = onnxruntime.InferenceSession(str(step), providers=["CPUExecutionProvider"])
    lengths = np.array([len(s) for s in sources], dtype=np.int64)
    source = torch.nn.utils.rnn.pad_sequence(sources, batch_first=True).numpy()
    outputs = dict(zip([o.name for o in encode.get_outputs()], encode.run(None, {"source": source,
                                                                                 "lengths": lengths})))
    feed = {"lengths": lengths, **{k: v for k, v in outputs.items() if not k.startswith("state_out.")}}
    state = {k.replace("state_out.", "state_in."): v for k, v in outputs.items() if k.startswith("state_out.")}
    token, done = np.full(len(sources), bos, dtype=np.int64), np.zeros(len(sources), dtype=bool)
    picked = []
    for _ in range(max_length):
        got = dict(zip([o.name for o in decode.get_outputs()], decode.run(None, {"token": token, **feed, **state})))
        token = got["logits"].argmax(-1).astype(np.int64)
        picked.append(np.where(done, eos, token))
        done |= token == eos
        state = {k.replace("state_out.", "state_in."): v for k, v in got.items() if k.startswith("state_out.")}
        if done.all():
            break
    rows = np.stack(picked, 1).tolist()
    return [row[:row.index(eos)] if eos in row else row for row in rows]


def test_an_exported_translation_run_translates_greedily_like_the_run(tmp_path, capsys):
    pairs = [f"{w} {v}\t{v} {w}" for w in "abcd" for v in ("xy", "zw", "uv")]
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(pairs * 3) + "\n", encoding="utf-8")
    cfg = rnnkit.load_config("configs/translate_dates.toml", [
        f"--task.path={data}", "--task.level=char", "--task.embedding_size=8", "--task.bucket_size=4",
        "--task.eval_sentences=4", "--task.valid_fraction=0.2", "--task.test_fraction=0.2", "--model.hidden_size=8",
        "--train.epochs=0", "--train.iterations=150", "--optim.lr=1e-2", "--train.eval_every=0", "--train.plots=false",
        "--train.baselines=false", f"--out_dir={tmp_path / 'run'}"])
    rnnkit.run(cfg)
    run_dir = tmp_path / "run"
    assert main(["export", str(run_dir)]) == 0
    assert "model.encoder.onnx" in capsys.readouterr().out
    info = json.loads((run_dir / "export" / "model.json").read_text(encoding="utf-8"))
    assert info["task"] == "translation" and set(info["graphs"]) == {"encoder", "decoder_step"}
    assert info["graphs"]["decoder_step"]["state"][-1]["name"] == "feed" and "decoder_step" in info["usage"]
    source_vocab, target_vocab = (Vocab.from_dict(info["meta"][k]) for k in ("source_vocab", "target_vocab"))
    bos, eos = len(target_vocab), len(target_vocab) + 1                  # what the JSON alone says
    sentences = ["a xy", "b zw", "d uv c", "c uv"]
    sources = [source_vocab.encode(s) for s in sentences]
    ids = greedy_onnx(run_dir / "export" / "model.encoder.onnx", run_dir / "export" / "model.decoder_step.onnx",
                      sources, bos, eos, max_length=8)
    saved = rnnkit.load(run_dir)
    assert (saved.model.bos, saved.model.eos) == (bos, eos)
    assert ids == decode_all(saved.model, sources, beam=1, max_length=8).tokens
    texts = [target_vocab.decode([i for i in row if i < bos]).strip() for row in ids]
    assert texts == saved.predict(sentences, beam=1, max_length=8)
    assert sum(map(len, texts)) > 8                            # it learned to write more than eos at once
    out = tmp_path / "stream" / "translator.pt"      # --streaming changes nothing: the step always carries the state
    assert main(["export", str(run_dir), "--format=torchscript", "--streaming", f"--out={out}"]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["translator.decoder_step.pt", "translator.encoder.pt",
                                                             "translator.json"]
