"""ULMFiT (Howard & Ruder 2018): a language model pretrained on unlabelled text starts a text
classifier (its vocabulary, embeddings and stack), fine-tuned on the training texts first, then
trained with gradual unfreezing, discriminative learning rates and a slanted-triangular schedule."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.config import OptimConfig
from rnnkit.data.labelled import normalize_text, read_text_csv
from rnnkit.layers.pooling import ConcatPooling
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.tasks.base import BUILT_FILE, WARM_START_DIR
from rnnkit.tasks.classification.pretrained import read_run
from rnnkit.train.checkpoint import STATE_FILE, WEIGHTS_FILE
from rnnkit.train.optim import make_optimizer, make_schedule, slanted_triangular
from rnnkit.train.unfreeze import Unfreezing

FIXTURE = Path(__file__).parent / "data" / "uci_sentences.csv"


def train(out: Path, config: str | None, *overrides: str) -> Path:
    cfg = rnnkit.load_config(config, ["--train.plots=false", "--train.baselines=false", *overrides, f"--out_dir={out}"])
    rnnkit.run(cfg)
    return out


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    """A tiny 2-layer word language model on 400 of the UCI sentences."""
    tmp = tmp_path_factory.mktemp("lm")
    texts, _ = read_text_csv(FIXTURE)
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(normalize_text(t) for t in texts[:400]) + "\n", encoding="utf-8")
    return train(tmp / "run", None, "--task.name=language_modeling", f"--task.path={corpus}", "--task.level=word",
                 "--task.batch_size=4", "--task.eval_batch_size=2", "--task.tie_weights=true",
                 "--model.hidden_size=12", "--model.num_layers=2", "--train.iterations=3", "--train.bptt=8",
                 "--train.eval_every=0")


def small_csv(tmp_path: Path) -> Path:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "small.csv"
    data.write_text("\n".join(lines[:1] + lines[-120:]) + "\n", encoding="utf-8")     # unseen by the LM
    return data


def test_pretrained_language_model_starts_fine_tunes_and_saves_a_classifier(tmp_path, lm_dir, capsys):
    lm = read_run(lm_dir, "test").language_model()
    run = train(tmp_path / "clf", "configs/classify_text.toml", f"--task.path={small_csv(tmp_path)}",
                f"--task.pretrained={lm_dir}", "--task.lm_epochs=1", "--task.pooling=concat", "--train.epochs=4",
                "--train.unfreeze_epochs=1", "--train.batch_size=16", "--train.patience=0",
                "--optim.schedule=slanted_triangular", "--optim.layer_decay=2.6")
    out = capsys.readouterr().out
    assert "lacks" in out and "distinct words of the training texts" in out          # the missing words, counted
    assert "fine-tuning the language model" in out
    assert "the top 1 of 4 layer groups train" in out and "all 4 layer groups train" in out
    saved = rnnkit.load(run)
    model = saved.model
    assert isinstance(model, SequenceClassifier) and isinstance(model.pooling, ConcatPooling)
    assert saved.meta["vocab"]["tokens"] == read_run(lm_dir, "test").vocab.tokens    # the language model's words
    assert model.rnn.layers[0].cell.hidden_size == 12 and len(model.rnn.layers) == 2  # its [model], not ours
    assert not torch.equal(model.embedding.weight, lm.embedding.weight)               # fine-tuned, then trained
    assert torch.allclose(model.embedding.weight, lm.embedding.weight, atol=0.5)      # ... from the pretrained ones
    assert all(p.requires_grad for p in model.parameters())
    first = saved.predict(["the food was great"])[0]
    assert rnnkit.load(run).predict(["the food was great"])[0].probabilities == first.probabilities


def test_without_fine_tuning_the_encoder_starts_as_the_language_model(tmp_path, lm_dir):
    run = train(tmp_path / "clf", "configs/classify_text.toml", f"--task.path={small_csv(tmp_path)}",
                f"--task.pretrained={lm_dir}", "--task.lm_epochs=0", "--train.epochs=1", "--train.unfreeze_epochs=1",
                "--train.batch_size=16", "--train.patience=0")
    lm = read_run(lm_dir, "test").language_model()
    model = rnnkit.load(run).model
    # one epoch with only the head unfrozen: the encoder is the language model's exactly
    torch.testing.assert_close(model.embedding.weight, lm.embedding.weight)
    for ours, theirs in zip(model.rnn.state_dict().values(), lm.rnn.state_dict().values()):
        torch.testing.assert_close(ours, theirs)


def test_pretrained_must_be_a_word_language_model_run(tmp_path, lm_dir):
    with pytest.raises(ValueError, match="no config.toml"):
        train(tmp_path / "a", "configs/classify_text.toml", f"--task.path={small_csv(tmp_path)}",
              f"--task.pretrained={tmp_path}")
    with pytest.raises(ValueError, match="leave task.init_embedding empty"):
        rnnkit.load_config("configs/classify_text.toml", [f"--task.path={FIXTURE}", f"--task.pretrained={lm_dir}",
                                                          f"--task.init_embedding={lm_dir}"])
    with pytest.raises(ValueError, match="keep task.seed = 0"):   # another IMDB split would test on its corpus
        rnnkit.load_config("configs/classify_text.toml", ["--task.path=imdb", "--task.seed=1"])
    (tmp_path / "broken").mkdir()
    for name in ("config.toml", "meta.json"):
        (tmp_path / "broken" / name).write_text((lm_dir / name).read_text())
    with pytest.raises(ValueError, match=WEIGHTS_FILE):
        read_run(tmp_path / "broken", "task.pretrained")


def test_slanted_triangular_rises_then_decays_to_one_over_ratio():
    total, cut_frac, ratio = 1000, 0.1, 32
    values = [slanted_triangular(it, total, cut_frac, ratio) for it in range(total)]
    assert values[0] == pytest.approx(1 / ratio)
    assert max(values) == pytest.approx(1.0) and values.index(max(values)) == 100
    assert all(a < b for a, b in zip(values[:100], values[1:101]))                  # rising
    assert all(a > b for a, b in zip(values[100:-1], values[101:]))                # then falling
    assert values[-1] == pytest.approx((1 + (1 / 900) * (ratio - 1)) / ratio)


def tiny_classifier() -> SequenceClassifier:
    cfg = rnnkit.load_config(None, ["--model.hidden_size=6", "--model.num_layers=2"])
    return rnnkit.tasks.classification.TextClassification(path="x").classifier(
        cfg.model, {"classes": ["a", "b"]}, 5, vocab_size=20)


def test_discriminative_rates_divide_by_layer_decay_from_the_top():
    model = tiny_classifier()
    groups = model.layer_groups()
    assert len(groups) == 4                     # embedding, 2 layers, pooling + head
    assert sum(len(g) for g in groups) == len(list(model.parameters()))
    optimizer = make_optimizer(model, OptimConfig(lr=1.0, layer_decay=2.0, weight_decay=0.1))
    rates = sorted({g["lr"] for g in optimizer.param_groups})
    assert rates == [0.125, 0.25, 0.5, 1.0]
    schedule = make_schedule(optimizer, OptimConfig(lr=1.0, layer_decay=2.0, schedule="slanted_triangular"), 100)
    optimizer.step()                            # no gradients: nothing moves
    schedule.step()
    assert sorted({g["lr"] for g in optimizer.param_groups})[-1] == pytest.approx(slanted_triangular(1, 100, 0.1, 32))


def test_gradual_unfreezing_adds_one_group_per_period_top_down():
    model = tiny_classifier()
    unfreeze = Unfreezing(model, unfreeze_epochs=2, per_epoch=5)
    trainable = lambda: [all(p.requires_grad for p in g) for g in model.layer_groups()]
    unfreeze(0)
    assert trainable() == [False, False, False, True]
    unfreeze(9)
    assert trainable() == [False, False, False, True]
    unfreeze(10)
    assert trainable() == [False, False, True, True]
    unfreeze(35)
    assert trainable() == [True, True, True, True]
    unfreeze(0)
    unfreeze.release()
    assert all(trainable())


def test_the_imdb_recipe_is_configs_lm_imdb(tmp_path):
    from rnnkit.config import parse_config, to_dict
    from rnnkit.tasks.classification.encoders import ENCODERS

    recipe = to_dict(rnnkit.config.from_dict({**ENCODERS["imdb"], "out_dir": "x"}))
    assert recipe == to_dict(parse_config("configs/lm_imdb.toml", ["--out_dir=x"]))


def test_the_imdb_recipe_finds_its_exclusion_list_from_any_working_directory(tmp_path, monkeypatch):
    from rnnkit.tasks.classification import encoders

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    folder, cfg = encoders.to_build("imdb")
    exclude = cfg.task.settings["exclude"]
    assert folder == encoders.encoder_dir("imdb") and Path(exclude).is_file()
    assert exclude == str(encoders.REPOSITORY / "tests/data/uci_sentences.csv")


def test_a_named_encoder_is_built_once_into_the_cache(tmp_path, monkeypatch, capsys):
    from rnnkit.tasks.classification import encoders

    texts, _ = read_text_csv(FIXTURE)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(normalize_text(t) for t in texts[:300]) + "\n", encoding="utf-8")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(encoders.ENCODERS, "tiny", {
        "task": {"name": "language_modeling", "path": str(corpus), "level": "word", "batch_size": 4,
                 "eval_batch_size": 2, "tie_weights": True},
        "model": {"hidden_size": 8}, "train": {"iterations": 2, "bptt": 6, "eval_every": 0, "plots": False,
                                              "baselines": False}})
    args = [f"--task.path={small_csv(tmp_path)}", "--task.pretrained=tiny", "--task.lm_epochs=0", "--train.epochs=1",
            "--train.batch_size=16", "--train.patience=0"]
    first = train(tmp_path / "a", "configs/classify_text.toml", *args)
    assert "building the pretrained encoder" in capsys.readouterr().out
    assert all((encoders.encoder_dir("tiny") / name).is_file() for name in (WEIGHTS_FILE, BUILT_FILE))
    second = train(tmp_path / "b", "configs/classify_text.toml", *args)
    assert "building the pretrained encoder" not in capsys.readouterr().out            # reused
    # the nested build does not change the run: both classifiers trained alike
    for ours, theirs in zip(rnnkit.load(first).model.state_dict().values(),
                            rnnkit.load(second).model.state_dict().values()):
        torch.testing.assert_close(ours, theirs)


class Killed(BaseException):
    """Stands for a kill: nothing in rnnkit catches it, so nothing is saved when it strikes."""


def kill_at_update(monkeypatch, model_type: type, n: int) -> None:
    """The `n`-th training update of a `model_type` model raises Killed (before it runs)."""
    from rnnkit.train import loop

    real, seen = loop.update, [0]

    def update(net, *args, **kwargs):
        if isinstance(net, model_type):
            seen[0] += 1
            if seen[0] == n:
                raise Killed
        return real(net, *args, **kwargs)

    monkeypatch.setattr(loop, "update", update)


def same_weights(a: Path, b: Path) -> None:
    ours, theirs = load_file(a / WEIGHTS_FILE), load_file(b / WEIGHTS_FILE)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name


def test_a_run_killed_while_fine_tuning_the_language_model_resumes_there(tmp_path, lm_dir, monkeypatch, capsys):
    from rnnkit.models.language_model import LanguageModel
    from rnnkit.tasks.classification import pretrained

    monkeypatch.setattr(pretrained, "CHECKPOINT_EVERY", 5)
    args = ["configs/classify_text.toml", f"--task.path={small_csv(tmp_path)}", f"--task.pretrained={lm_dir}",
            "--task.lm_epochs=1", "--train.epochs=2", "--train.batch_size=16"]
    whole = train(tmp_path / "whole", *args)
    assert not (whole / WARM_START_DIR).exists()                   # removed once the run has finished
    with monkeypatch.context() as m:
        kill_at_update(m, LanguageModel, 8)                         # after the checkpoint of update 5
        with pytest.raises(Killed):
            train(tmp_path / "killed", *args)
    killed = tmp_path / "killed"
    assert (killed / WARM_START_DIR / STATE_FILE).is_file() and not (killed / STATE_FILE).exists()
    capsys.readouterr()
    rnnkit.run(resume=killed)
    out = capsys.readouterr().out
    assert "resuming the language model" in out
    assert not (killed / WARM_START_DIR).exists()
    same_weights(killed, whole)                                     # on from update 5, exactly: the same classifier


def test_ctrl_c_while_fine_tuning_names_the_run_to_resume(tmp_path, lm_dir, monkeypatch):
    from rnnkit.models.language_model import LanguageModel
    from rnnkit.train import Interrupted, loop

    real, seen = loop.update, [0]

    def update(net, *args, **kwargs):
        seen[0] += isinstance(net, LanguageModel)
        if seen[0] == 3:
            os.kill(os.getpid(), signal.SIGINT)                     # as Ctrl-C would, during update 3
        return real(net, *args, **kwargs)

    monkeypatch.setattr(loop, "update", update)
    with pytest.raises(Interrupted, match="fine-tuning the language model .*rnnkit train --resume " +
                       re.escape(str(tmp_path / "run")) + "$"):
        train(tmp_path / "run", "configs/classify_text.toml", f"--task.path={small_csv(tmp_path)}",
              f"--task.pretrained={lm_dir}", "--task.lm_epochs=1", "--train.epochs=1", "--train.batch_size=16")
    assert torch.load(tmp_path / "run" / WARM_START_DIR / STATE_FILE)["iteration"] == 3


def test_a_stopped_encoder_build_is_resumed_not_taken_for_built(tmp_path, monkeypatch, capsys):
    from rnnkit.models.language_model import LanguageModel
    from rnnkit.tasks.classification import encoders

    texts, _ = read_text_csv(FIXTURE)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(normalize_text(t) for t in texts[:300]) + "\n", encoding="utf-8")
    monkeypatch.setitem(encoders.ENCODERS, "tiny", {
        "task": {"name": "language_modeling", "path": str(corpus), "level": "word", "batch_size": 4,
                 "eval_batch_size": 2, "tie_weights": True},
        "model": {"hidden_size": 8}, "train": {"iterations": 6, "bptt": 6, "eval_every": 0, "checkpoint_every": 2,
                                              "plots": False, "baselines": False}})
    args = ["configs/classify_text.toml", f"--task.path={small_csv(tmp_path)}", "--task.pretrained=tiny",
            "--task.lm_epochs=0", "--train.epochs=1", "--train.batch_size=16"]
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "whole"))
    train(tmp_path / "a", *args)
    built = encoders.encoder_dir("tiny")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "killed"))
    folder = encoders.encoder_dir("tiny")
    with monkeypatch.context() as m:
        kill_at_update(m, LanguageModel, 6)                         # checkpoints at updates 2 and 4 are saved
        with pytest.raises(Killed):
            train(tmp_path / "b", *args)
    assert (folder / WEIGHTS_FILE).is_file() and not (folder / BUILT_FILE).exists()
    assert encoders.to_build("tiny") is not None                    # the weights of update 4 are not the encoder
    capsys.readouterr()
    train(tmp_path / "c", *args)
    assert "resuming the pretrained encoder's build" in capsys.readouterr().out
    assert (folder / BUILT_FILE).is_file() and not Path(f"{folder}-2").exists()
    same_weights(folder, built)
    # killed before its first checkpoint: built again in the same folder, not in folder-2
    for name in (STATE_FILE, WEIGHTS_FILE, BUILT_FILE):
        (folder / name).unlink()
    train(tmp_path / "d", *args)
    assert "building the pretrained encoder" in capsys.readouterr().out
    assert not Path(f"{folder}-2").exists()
    same_weights(folder, built)


def test_runs_started_side_by_side_build_the_encoder_once(tmp_path, capsys):
    from filelock import FileLock

    from rnnkit.runs.run import build_pretrained

    folder = tmp_path / "encoders" / "tiny"

    class Task:                             # names an encoder that is not built until BUILT_FILE appears
        def to_pretrain(self):
            return None if (folder / BUILT_FILE).is_file() else (folder, None)

    other = FileLock(f"{folder}.lock")      # another process is building it
    folder.mkdir(parents=True)
    other.acquire()
    waiting = threading.Thread(target=build_pretrained, args=(Task(), 0))
    waiting.start()
    time.sleep(0.5)
    assert waiting.is_alive() and "waiting for another process" in capsys.readouterr().out
    (folder / BUILT_FILE).write_text("{}")
    other.release()
    waiting.join(timeout=10)
    assert not waiting.is_alive() and not (folder / "config.toml").exists()    # it read the other's build


def test_train_size_samples_the_labelled_pool_and_keeps_the_test_part(tmp_path):
    from rnnkit.tasks.classification import TextClassification

    full = TextClassification(path=str(FIXTURE)).load()
    small = TextClassification(path=str(FIXTURE), train_size=200).load()
    assert small.ids["test"] == full.ids["test"]                        # the same test sentences
    assert len(small.train) + len(small.valid) == 200 and len(small.valid) == 20
    pool = set(full.ids["train"]) | set(full.ids["valid"])
    assert set(small.ids["train"]) | set(small.ids["valid"]) <= pool
    assert TextClassification(path=str(FIXTURE), train_size=200, seed=1).load().ids["train"] != small.ids["train"]
    with pytest.raises(ValueError, match="training pool holds 2700"):
        TextClassification(path=str(FIXTURE), train_size=5000).load()


def test_exclude_drops_the_corpus_lines_that_hold_test_texts(tmp_path, capsys):
    from rnnkit.data.exclude import drop_lines, read_excluded

    held = tmp_path / "test.csv"
    held.write_text('text,label\n"A truly wonderful film, I loved it!",1\nbad,0\n', encoding="utf-8")
    excluded = read_excluded(held)
    assert excluded == ["a truly wonderful film , i loved it"]            # normal form; short texts ignored
    corpus = "I saw it. A truly wonderful film, I loved it!! Go.\nAnother review.\nA TRULY wonderful film, i loved it\n"
    kept, dropped = drop_lines(corpus, excluded)
    assert (kept, dropped) == ("Another review.\n", 2)
    text = tmp_path / "corpus.txt"
    text.write_text(corpus * 20, encoding="utf-8")
    from rnnkit.tasks.language_modeling import LanguageModeling

    data = LanguageModeling(path=str(text), level="word", exclude=str(held), batch_size=2, eval_batch_size=1,
                            valid_fraction=0.2, test_fraction=0.0).load()
    assert "dropped 40 corpus lines" in capsys.readouterr().out
    assert data.ids["train"]["excluded_lines"] + data.ids["valid"]["excluded_lines"] == 40
    assert set(data.vocab.tokens) == {"<unk>", "<eos>", "Another", "review."}
    data = LanguageModeling(path=str(text), level="word", normalize=True, batch_size=2, eval_batch_size=1,
                            valid_fraction=0.2, test_fraction=0.0).load()
    assert {"another", "review", ".", "truly", "!"} <= set(data.vocab.tokens)    # as a classifier reads text
