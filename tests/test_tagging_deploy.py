"""A tagging run exported (ONNX, TorchScript) and served: the file, fed the run's own encoding,
gives the saved model's scores and Viterbi tags; the unpacked character BiLSTM of the graph equals
the packed one; POST /tag gives what `predict` gives and refuses what it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import rnnkit
import rnnkit.serve
from rnnkit.cli import main
from rnnkit.export import run_file
from rnnkit.export.recurrence import script
from rnnkit.export.tagger import CharGraph, Viterbi
from rnnkit.models.crf import CRF, bio_constraints
from rnnkit.models.tagger import CharEncoder
from rnnkit.tasks.tagging.data import Encoding
from test_serve import refused, train
from test_tagging_task import write_corpus

pytest.importorskip("onnxruntime")
TINY = ["--task.embedding_size=8", "--task.char_embedding_size=4", "--task.char_hidden_size=4",
        "--model.hidden_size=8", "--train.epochs=0", "--train.eval_every_epochs=0", "--train.iterations=3",
        "--train.batch_size=8"]
SENTENCES = [["John", "Smith", "lives", "in", "Paris", "."], ["Bob", "smiled"], ["In", "New", "York", ",", "Sue"]]


@pytest.fixture(scope="module", params=["crf", "softmax"])
def run_dir(request, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp(f"tag_{request.param}")
    data = write_corpus(tmp / "ner", {"train": 30, "valid": 5, "test": 5})
    return train(tmp / "run", "configs/ner_conll03_bilstm_crf.toml", f"--task.path={data}",
                 f"--task.crf={'true' if request.param == 'crf' else 'false'}", *TINY)


def test_char_graph_equals_the_packed_encoder_in_float64():
    torch.manual_seed(0)
    encoder = CharEncoder(12, 5, 4).double()
    chars = torch.randint(1, 12, (7, 6)).masked_fill(torch.arange(6) >= torch.tensor([6, 1, 3, 2, 5, 4, 1])[:, None], 0)
    torch.testing.assert_close(CharGraph(encoder).double()(chars), encoder(chars, (chars != 0).sum(1)),
                               rtol=0, atol=1e-10)


def test_scripted_viterbi_equals_the_crf_under_constraints():
    torch.manual_seed(1)
    crf = CRF(5, **bio_constraints(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])._asdict())
    emissions, lengths = torch.randn(4, 6, 5), torch.tensor([6, 1, 4, 2])
    path, _ = crf.viterbi(emissions, lengths)
    start, transitions, end = crf.scores(disallowed=-torch.inf)
    scripted = script(Viterbi(start.detach(), transitions.detach(), end.detach()))
    assert torch.equal(scripted(emissions, lengths), path)


@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_the_exported_file_tags_like_the_run(run_dir, kind, tmp_path):
    out = tmp_path / ("model.onnx" if kind == "onnx" else "model.pt")
    assert main(["export", str(run_dir), f"--format={kind}", f"--out={out}"]) == 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    saved = rnnkit.load(run_dir)
    encoding = Encoding.from_dict(sidecar["meta"])              # the JSON alone carries the encoding
    tokens, lengths = encoding.encode(SENTENCES)
    names = [p["name"] for p in sidecar["graphs"]["model"]["inputs"]]
    got = run_file(out, kind, (tokens.long(), lengths), names)
    with torch.no_grad():
        scores = saved.model(tokens, lengths)
    mask = (torch.arange(tokens.size(1))[None] < lengths[:, None]).numpy()
    assert abs(got[0][mask] - scores.numpy()[mask]).max() < 1e-5
    crf = saved.task.crf
    assert [o["name"] for o in sidecar["graphs"]["model"]["outputs"]][:2] == (["scores", "tags"] if crf else
                                                                               ["scores", "state_out.layer0.h"])
    if crf:
        paths = [[encoding.tags[i] for i in row[:n]] for row, n in zip(got[1].tolist(), lengths.tolist())]
        assert paths == [[encoding.tags[i] for i in p] for p in saved.model.decode(scores, lengths)]
        assert (got[1][~mask] == -1).all()


def test_a_crf_tagger_refuses_a_streaming_export(run_dir, tmp_path, capsys):
    if not rnnkit.load(run_dir).task.crf:
        pytest.skip("a bidirectional softmax tagger is refused by the recurrence (tested in test_export)")
    assert main(["export", str(run_dir), "--streaming", f"--out={tmp_path / 'm.onnx'}"]) == 2
    assert "no streaming export" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_serve_tag_is_the_predictors_and_refuses_bad_sentences(run_dir):
    from fastapi.testclient import TestClient

    client = TestClient(rnnkit.serve.app(run_dir))
    meta = client.get("/metadata").json()
    assert meta["endpoint"] == "/tag" and meta["scheme"] == "IOB2" and "S-PER" in meta["tags"]
    body = {"sentences": ["John Smith lives in Paris .", ["Bob", "smiled"]]}
    reply = client.post("/tag", json=body)
    assert reply.status_code == 200
    expected = [s.to_dict() for s in rnnkit.load(run_dir).predict(body["sentences"])]
    got = reply.json()["sentences"]
    assert [s["tags"] for s in got] == [s["tags"] for s in expected]
    flat = lambda sentences: [p for s in sentences for p in s["probability"]]
    assert flat(got) == pytest.approx(flat(expected), abs=1e-6)
    refused(client.post("/tag", json={"sentences": "John"}), 422, "must be a list")
    refused(client.post("/tag", json={"sentences": ["  "]}), 422, "sentences[0] has no words")
    refused(client.post("/tag", json={"sentences": [["New York"]]}), 422, "whitespace")
    refused(client.post("/tag", json={"sentences": [3]}), 422, "string or a list of strings")
    refused(client.post("/tag", json={"text": ["x"]}), 422, "text")
