"""`rnnkit serve` on tiny language-model and text-classifier runs, through fastapi's TestClient:
health and metadata, each endpoint's result equal to `saved.predict` on the same input, streamed
generation equal to the whole reply, concurrent requests batched, every bad request a 4xx JSON
reply that says what to fix, and a failing predictor that leaves the server serving."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest

import rnnkit
import rnnkit.serve
from rnnkit.cli import main
from rnnkit.serve import Batcher, Limits

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402  (after the skip: the serve extra may be absent)

FIXTURE = Path(__file__).parent / "data" / "uci_sentences.csv"
CORPUS = "to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n" * 90
TEXTS = ["the food was great", "terrible, never again", "zzz unseen words qqq", "great great great food"]


def train(out: Path, config: str | None, *overrides: str) -> Path:
    rnnkit.run(rnnkit.load_config(config, ["--train.eval_every=0", "--train.plots=false", "--train.baselines=false",
                                           *overrides,
                                           f"--out_dir={out}"]))
    return out


def train_lm(root: Path) -> Path:
    """A character language model trained for 4 steps (2 s)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.txt").write_text(CORPUS)
    return train(root / "lm", "configs/shakespeare_char.toml", f"--task.path={root / 'corpus.txt'}",
                 "--task.level=char", "--task.embedding_size=8", "--task.batch_size=4", "--task.eval_batch_size=2",
                 "--task.eval_bptt=20", "--model.hidden_size=8", "--train.epochs=0", "--train.iterations=4",
                 "--train.bptt=5")


def train_classifier(root: Path) -> Path:
    """A bidirectional GRU text classifier with attention pooling on 81 sentences (1.5 s)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    (root / "small.csv").write_text("\n".join(lines[:41] + lines[-40:]) + "\n", encoding="utf-8")
    return train(root / "classifier", "configs/classify_uci_bigru.toml", f"--task.path={root / 'small.csv'}",
                 "--task.embedding_size=8", "--model.hidden_size=8", "--train.epochs=0", "--train.iterations=3",
                 "--train.batch_size=8")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    return train_lm(tmp_path_factory.mktemp("serve_lm"))


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory) -> Path:
    return train_classifier(tmp_path_factory.mktemp("serve_classifier"))


@pytest.fixture(scope="module")
def classifier(classifier_run) -> TestClient:
    return TestClient(rnnkit.serve.app(classifier_run))


def as_json(prediction) -> dict:
    return {k: v for k, v in dataclasses.asdict(prediction).items() if v is not None}


def close(a: dict, b: dict) -> bool:
    """Equal predictions up to float rounding (a batch of another size may round differently)."""
    return (a["label"] == b["label"] and a.get("tokens") == b.get("tokens")
            and a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)
            and a.get("attention") == pytest.approx(b.get("attention"), abs=1e-6))


def concurrently(client: TestClient, bodies: list[dict]) -> list:
    """POST /classify each body from its own thread, all released at once; the replies in order."""
    replies: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def send(i: int) -> None:
        start.wait()
        replies[i] = client.post("/classify", json=bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies


def refused(reply, status: int, *words: str) -> dict:
    """A JSON refusal with `status`, whose error and fix hold `words`."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error", "fix"} and body["fix"]
    for word in words:
        assert word in body["error"] + " " + body["fix"], body
    return body


def test_health_metadata_and_the_page(classifier, classifier_run):
    saved = rnnkit.load(classifier_run)
    assert classifier.get("/health").json()["status"] == "ok"
    meta = classifier.get("/metadata").json()
    assert meta["task"] == "text_classification" and meta["endpoint"] == "/classify" and meta["run"] == "classifier"
    assert meta["classes"] == ["0", "1"] and meta["attention"] is True and meta["reads"] == "texts"
    assert meta["vocab_size"] == len(saved.meta["vocab"]["tokens"])
    assert meta["model"] == json.loads(json.dumps(dataclasses.asdict(saved.cfg.model)))
    assert meta["limits"] == dataclasses.asdict(Limits())
    assert "/tmp" not in json.dumps(meta)                            # no server paths (task.path) in the reply
    page = classifier.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" in page.text and "src=" not in page.text and "https://" not in page.text   # all inline
    paths = classifier.get("/openapi.json").json()["paths"]
    assert "/classify" in paths and "/generate" not in paths
    assert "example" in json.dumps(paths["/classify"]["post"]["requestBody"])


def test_classify_gives_what_the_predictor_gives(classifier, classifier_run):
    expected = rnnkit.load(classifier_run).predict(TEXTS)
    reply = classifier.post("/classify", json={"texts": TEXTS})
    assert reply.status_code == 200
    got = reply.json()["predictions"]
    assert got == [as_json(p) for p in expected]
    assert got[0]["tokens"] == ["the", "food", "was", "great", "<eos>"] and len(got[0]["attention"]) == 5


def test_generate_whole_and_streamed_give_the_predictors_text(lm_run):
    client = TestClient(rnnkit.serve.app(lm_run))
    meta = client.get("/metadata").json()
    assert meta["task"] == "language_modeling" and meta["level"] == "char" and meta["vocab_size"] > 10
    saved = rnnkit.load(lm_run)
    request = {"prompt": "to be", "tokens": 30, "temperature": 0.9, "seed": 7}
    expected = saved.predict("to be", tokens=30, temperature=0.9, seed=7)
    reply = client.post("/generate", json=request)
    assert reply.status_code == 200 and reply.json() == {"prompt": "to be", "text": expected, "unknown_tokens": []}
    with client.stream("POST", "/generate", json={**request, "stream": True}) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in stream.iter_lines() if line]
    *pieces, last = lines
    assert len(pieces) > 1 and "".join(p["text"] for p in pieces) == expected      # token by token
    assert last == {"done": True, "text": expected, "prompt": "to be", "unknown_tokens": []}
    greedy = client.post("/generate", json={"prompt": "whether", "tokens": 12, "greedy": True}).json()["text"]
    assert greedy == saved.predict("whether", tokens=12, greedy=True)
    refused(client.post("/generate", json={"prompt": "x", "tokens": 5000}), 422, "5000", "1000", "tokens")
    refused(client.post("/generate", json={"prompt": "x", "temperature": 0}), 422, "temperature")
    refused(client.post("/generate", json={"prompt": "x", "temprature": 1}), 422, "unknown field", "temperature")
    refused(client.post("/generate", json={"prompt": 5}), 422, "'prompt' must be a string")
    refused(client.post("/classify", json={"texts": ["a"]}), 404, "language_modeling", "POST /generate")


def test_concurrent_requests_are_batched_and_each_gets_its_own(classifier_run):
    api = rnnkit.serve.app(classifier_run, Limits(batch_wait_ms=300))
    client, saved = TestClient(api), rnnkit.load(classifier_run)
    requests = [[TEXTS[i % 4]] * (1 + i % 3) for i in range(8)]
    replies = concurrently(client, [{"texts": texts} for texts in requests])
    for texts, reply in zip(requests, replies, strict=True):
        assert reply.status_code == 200
        assert all(close(g, as_json(e)) for g, e in zip(reply.json()["predictions"], saved.predict(texts), strict=True))
    assert api.state.service.batcher.largest_batch > 1
    assert client.get("/health").json()["batches"]["largest"] > 1


@pytest.mark.parametrize("body,status,words", [
    (b"{not json", 400, ["not valid JSON", "send a JSON object"]),
    (b"", 400, ["no body"]),
    (b'["a fine film"]', 422, ["must be a JSON object, got a list"]),
    (b'{"texts": "a fine film"}', 422, ["'texts' must be a list, got a string"]),
    (b'{"texts": [1, 2]}', 422, ["texts[0] must be a string, got 1"]),
    (b'{"texts": ["fine", "  "]}', 422, ["texts[1] is empty"]),
    (b'{"texts": []}', 422, ["empty list"]),
    (b'{"text": ["fine"]}', 422, ["unknown field 'text'", "did you mean 'texts'"]),
    (b'{"sequences": [[[1]]]}', 422, ["unknown field 'sequences'"]),
    (json.dumps({"texts": ["x"] * 65}).encode(), 422, ["65 entries", "at most 64", "split"]),
    (json.dumps({"texts": ["x" * 5001]}).encode(), 422, ["5,001 characters", "at most 5,000"]),
])
def test_bad_requests_say_what_to_fix(classifier, body, status, words):
    refused(classifier.post("/classify", content=body, headers={"content-type": "application/json"}), status, *words)
    assert classifier.post("/classify", json={"texts": ["still here"]}).status_code == 200


def test_wrong_paths_and_methods_are_json_that_name_the_run(classifier):
    refused(classifier.post("/generate", json={"prompt": "a"}), 404, "'text_classification' run", "POST /classify",
            "language_modeling")
    refused(classifier.post("/forecast", json={}), 404, "forecasting")
    refused(classifier.get("/nowhere"), 404, "GET /nowhere", "POST /classify")
    refused(classifier.get("/classify"), 405, "does not take GET")


def test_an_oversized_body_is_413_declared_or_streamed(classifier_run):
    client = TestClient(rnnkit.serve.app(classifier_run, Limits(max_body_bytes=1000)))
    big = json.dumps({"texts": ["a fine film " * 100]}).encode()
    refused(client.post("/classify", content=big), 413, "at most 1,000", "--max-body-bytes")
    chunks = (big[i:i + 100] for i in range(0, len(big), 100))           # no Content-Length: counted as it comes
    refused(client.post("/classify", content=chunks), 413, "more than 1,000")
    assert client.post("/classify", json={"texts": ["fine"]}).status_code == 200


def test_a_failing_predictor_is_an_error_reply_and_the_server_goes_on(classifier_run):
    api = rnnkit.serve.app(classifier_run, Limits(batch_wait_ms=300))
    client = TestClient(api)
    predictor = api.state.service.saved.predictor
    original = predictor.predict

    def fragile(texts):
        if "boom" in texts:
            raise RuntimeError("the kernel fell over")
        if "odd" in texts:
            raise ValueError("odd input")
        return original(texts)

    predictor.predict = fragile
    refused(client.post("/classify", json={"texts": ["boom"]}), 500, "RuntimeError", "still running")
    refused(client.post("/classify", json={"texts": ["odd"]}), 422, "cannot use this input: odd input")
    boom, fine, great = concurrently(client, [{"texts": ["boom"]}, {"texts": ["fine"]}, {"texts": ["great food"]}])
    assert boom.status_code == 500                                  # a bad request in a batch fails alone
    assert fine.status_code == 200 and great.status_code == 200
    assert api.state.service.batcher.largest_batch > 1
    assert client.get("/health").json()["status"] == "ok"


def test_the_batcher_groups_by_key_and_isolates_failures():
    batcher = Batcher(wait_ms=200, max_batch=5)
    calls: list[list] = []

    def double(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [2 * x for x in items]

    gate = threading.Event()
    blocker = batcher.call(gate.wait)                               # holds the worker while the jobs queue up
    futures = [batcher.batch("k", double, [1, 2]), batcher.batch("other", double, [10]),
               batcher.batch("k", double, [3]), batcher.batch("k", double, ["bad"]), batcher.batch("k", double, [4])]
    gate.set()
    assert blocker.result(5) is True
    assert futures[0].result(5) == [2, 4] and futures[2].result(5) == [6] and futures[4].result(5) == [8]
    with pytest.raises(ValueError, match="bad item"):
        futures[3].result(5)
    assert futures[1].result(5) == [20]
    assert calls[0] == [1, 2, 3, "bad", 4] and [1, 2] in calls[1:]   # together first, then each alone
    assert batcher.largest_batch == 4
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.batch("k", double, [1])


def test_limits_and_unservable_runs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="max_texts must be > 0"):
        Limits(max_texts=0)
    run_dir = train(tmp_path / "adding", "configs/adding_lstm.toml", "--train.iterations=1", "--train.batch_size=4",
                    "--model.hidden_size=4", "--task.train_size=4", "--task.valid_size=4", "--task.test_size=4",
                    "--task.length=4")
    with pytest.raises(ValueError, match="is a 'adding' run; rnnkit serve needs a language_modeling or"):
        rnnkit.serve.app(run_dir)


def test_the_command_line_passes_host_port_and_limits(classifier_run, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr("rnnkit.cli.serve.serve", lambda run_dir, **kw: seen.update(run_dir=run_dir, **kw))
    assert main(["serve", str(classifier_run), "--port", "9001", "--max-texts", "8", "--batch-wait-ms=2.5"]) == 0
    assert seen == {"run_dir": str(classifier_run), "host": "127.0.0.1", "port": 9001,
                    "limits": Limits(max_texts=8, batch_wait_ms=2.5)}
    assert main(["serve", str(classifier_run), "--max-batch", "0"]) == 2
    assert "max_batch must be > 0" in capsys.readouterr().err
