"""Classification of the user's own files: texts from CSV, TSV and JSON Lines; sequences from UEA
.ts and .arff files, .npz archives and the archive's TRAIN/TEST folders; the ids each split
records; and the baselines scored with the task's own metric names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_ramps
from rnnkit.cli import main
from rnnkit.config import ModelConfig
from rnnkit.data.sequence_files import archive_files, read_labelled_sequences, read_sequences
from rnnkit.data.text_tables import read_text_table
from rnnkit.tasks.classification import SequenceClassification, TextClassification
from rnnkit.tasks.classification.baselines import examples, fixed_length

pytest.importorskip("aeon")
pytest.importorskip("sklearn")

WORDS = {"pos": ["great", "lovely", "superb", "fine"], "neg": ["awful", "dull", "poor", "bad"]}


def reviews(n: int = 60) -> list[tuple[str, str]]:
    """(text, label): a label's words with shared filler, separable by words but not by length."""
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(n):
        label = ("pos", "neg")[i % 2]
        words = [WORDS[label][int(j)] for j in torch.randint(4, (3,), generator=g)]
        rows.append((" ".join(["the", "film", "was", *words, "!"]), label))
    return rows


def write_ts(path: Path, series: list[np.ndarray], labels: list[str], *, data: list[str] | None = None) -> Path:
    """A UEA .ts file of (C, T_i) series; `data` replaces the generated data lines."""
    lines = data if data is not None else [":".join(",".join(f"{v:.4f}" for v in channel) for channel in s)
                                           + f":{label}" for s, label in zip(series, labels)]
    header = ["# made by a test", "@problemName toy", "@timeStamps false", "@missing false",
              f"@univariate {str(series[0].shape[0] == 1).lower()}", f"@dimensions {series[0].shape[0]}",
              "@equalLength false", f"@classLabel true {' '.join(sorted(set(labels)))}", "@data"]
    path.write_text("\n".join(header + lines) + "\n")
    return path


def ramps(n: int, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """(C=2, T_i in 6..14) sequences rising in one channel or the other: the label."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        t = np.linspace(0, 1, int(rng.integers(6, 15)))
        up = i % 2
        series.append(np.stack([t * (1 - up), t * up]) * 2 + 0.1 * rng.standard_normal((2, len(t))))
        labels.append(("flat", "rise")[up])
    return series, labels


# ---- texts -----------------------------------------------------------------------------------------
def test_tsv_and_jsonl_read_as_csv_does(tmp_path):
    (tmp_path / "a.tsv").write_text('review\tstars\n"quoted" start\t5\nplain\t1\n')
    assert read_text_table(tmp_path / "a.tsv", text_column="review", label_column="stars") == (
        ['"quoted" start', "plain"], ["5", "1"])           # TSV has no quoting: the quote marks stay
    (tmp_path / "a.jsonl").write_text('{"review": "good", "stars": 5}\n\n{"review": "bad", "stars": "1"}\n')
    assert read_text_table(tmp_path / "a.jsonl", text_column="review", label_column="stars") == (
        ["good", "bad"], ["5", "1"])


@pytest.mark.parametrize("name, content, message", [
    ("a.tsv", "text\tlabel\ngood\t1\n\t0\n", r"a\.tsv, line 3: empty text"),
    ("b.tsv", "text\ty\ngood\t1\n", r"b\.tsv has no label column 'label'"),
    ("c.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", "label": 0\n', r"c\.jsonl, line 2: not JSON"),
    ("d.jsonl", '{"text": "good", "label": 1}\n["bad", 0]\n', r"d\.jsonl, line 2: expected a JSON object"),
    ("e.jsonl", '{"text": "good", "label": 1}\n{"text": "bad"}\n', r"e\.jsonl, line 2 has no label column"),
    ("f.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", "label": ""}\n', r"f\.jsonl, line 2: empty label"),
    ("g.jsonl", '{"text": 3, "label": 1}\n', r"g\.jsonl, line 1: the text must be a string"),
    ("h.jsonl", "\n", r"h\.jsonl holds no rows"),
])
def test_text_file_errors_name_the_file_and_line(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        read_text_table(tmp_path / name)


def test_text_task_records_its_rows_and_fits_its_baseline(tmp_path):
    rows = reviews()
    with open(tmp_path / "reviews.jsonl", "w") as f:
        f.writelines(json.dumps({"review": t, "sentiment": y}) + "\n" for t, y in rows)
    task = TextClassification(path=str(tmp_path / "reviews.jsonl"), text_column="review", label_column="sentiment",
                              valid_fraction=0.2, test_fraction=0.2, seed=3)
    data = task.load()
    ids = data.ids
    assert ids["seed"] == 3 and ids["files"] == {name: "reviews.jsonl" for name in ("train", "valid", "test")}
    assert sorted(ids["train"] + ids["valid"] + ids["test"]) == list(range(60)) and len(ids["test"]) == 12
    assert task.load().ids == ids                                     # a function of the file and seed
    texts, y = data.texts["test"]
    assert [rows[i][0].replace("!", " !").split() == t.split() for i, t in zip(ids["test"], texts)] == [True] * 12
    assert [data.meta["classes"][c] for c in y.tolist()] == [rows[i][1] for i in ids["test"]]
    model = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    names = list(task.evaluate(model.eval(), [data.test]))
    table = task.baselines(data, ["test"])["test"]
    assert list(table) == ["tfidf_logreg", "nb_logreg"] and all(list(row) == names for row in table.values())
    assert all(row["accuracy"] == 1.0 and row["loss"] < 0.7 for row in table.values())


def test_text_folder_of_tsv_files_keeps_its_own_splits_and_buckets(tmp_path):
    rows = reviews(40)
    for name, part in (("train", rows[:30]), ("valid", rows[30:35]), ("test", rows[35:])):
        (tmp_path / f"{name}.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in part))
    task = TextClassification(path=str(tmp_path), bucket_size=4)
    data = task.load()
    assert data.ids["files"] == {"train": "train.tsv", "valid": "valid.tsv", "test": "test.tsv"}
    assert data.ids["valid"] == list(range(5)) and data.train.inputs.dim() == 3          # (K, B, T) buckets
    assert task.baselines(data, ["valid"])["valid"]["tfidf_logreg"]["accuracy"] == 1.0
    (tmp_path / "train.jsonl").write_text("")
    with pytest.raises(ValueError, match="holds train.tsv and train.jsonl"):
        task.load()


# ---- sequence files --------------------------------------------------------------------------------
def test_ts_file_multivariate_unequal_length(tmp_path):
    series, labels = ramps(6)
    got, got_labels = read_labelled_sequences(write_ts(tmp_path / "toy.ts", series, labels))
    assert got_labels == labels and [s.shape for s in got] == [(s.shape[1], 2) for s in series]
    torch.testing.assert_close(got[3], torch.tensor(series[3].T, dtype=torch.float32), atol=1e-4, rtol=0)


@pytest.mark.parametrize("data, message", [
    (["1,2,3:4,5,6:a", "1,2:b"], r"bad\.ts, line 11: Inconsistent number of dimensions"),
    (["1,2,3:4,5,6:a", "1,?,3:4,5,6:b"], r"bad\.ts, line 11: a missing or NaN value \(at step 1\)"),
    (["1,2,3:4,5,6:a", "1,2,3:4,x,6:b"], r"bad\.ts: could not convert string to float"),
    (["1,2,3:4,5,6:a", ""], r"bad\.ts, line 11: a blank line after @data"),
    ([], r"bad\.ts holds no series after an @data line"),
])
def test_malformed_ts_files_name_the_file_and_line(tmp_path, data, message):
    path = write_ts(tmp_path / "bad.ts", [np.zeros((2, 3))], ["a", "b"], data=data)
    with pytest.raises(ValueError, match=message):
        read_labelled_sequences(path)


def test_ts_without_labels_or_with_targets(tmp_path):
    path = tmp_path / "nolabel.ts"
    path.write_text("@problemName x\n@univariate true\n@equalLength true\n@classLabel false\n@data\n1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match=r"nolabel\.ts holds no class labels \(@classLabel false\)"):
        read_labelled_sequences(path)
    assert [s.shape for s in read_sequences(path, 1)[1]] == [(3, 1), (3, 1)]          # predict reads it
    path.write_text("@problemName x\n@univariate true\n@targetLabel true\n@data\n1,2,3:0.5\n")
    with pytest.raises(ValueError, match="regression targets"):
        read_labelled_sequences(path)


def test_arff_files(tmp_path):
    path = tmp_path / "toy.arff"
    header = "@relation toy\n@attribute t0 numeric\n@attribute t1 numeric\n@attribute t2 numeric\n" \
             "@attribute class {a,b}\n@data\n"
    path.write_text(header + "1,2,3,a\n4,5,6,b\n")
    series, labels = read_labelled_sequences(path)
    assert labels == ["a", "b"] and series[1].tolist() == [[4.0], [5.0], [6.0]]
    path.write_text(header + "1,2,3,a\n4,x,6,b\n")
    with pytest.raises(ValueError, match=r"toy\.arff: could not convert string to float: 'x'"):
        read_labelled_sequences(path)
    path.write_text(header + "1,2,3,a\n4,?,6,b\n")
    with pytest.raises(ValueError, match=r"toy\.arff, line 8: a missing or NaN value"):
        read_labelled_sequences(path)


def test_npz_padded_ragged_and_univariate(tmp_path):
    X = np.zeros((3, 5, 2))
    X[0, :2], X[1, :5], X[2, :3] = 1, 2, 3
    np.savez(tmp_path / "padded.npz", X=X, y=np.array([1.0, 0.0, 1.0]), lengths=np.array([2, 5, 3]))
    series, labels = read_labelled_sequences(tmp_path / "padded.npz")
    assert [s.shape for s in series] == [(2, 2), (5, 2), (3, 2)] and labels == ["1", "0", "1"]
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.ones((4, 3)), np.ones((2, 3))
    np.savez(tmp_path / "ragged.npz", X=ragged, y=np.array(["a", "b"]))
    assert [s.shape for s in read_labelled_sequences(tmp_path / "ragged.npz")[0]] == [(4, 3), (2, 3)]
    np.savez(tmp_path / "uni.npz", X=np.ones((2, 7)), y=np.array([0, 1]))
    assert read_labelled_sequences(tmp_path / "uni.npz")[0][0].shape == (7, 1)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.ones((2, 3, 1)), "y": np.array([0, 1])}, r"holds \['x', 'y'\]; save the sequences as X"),
    ({"X": np.ones((2, 3, 1))}, r"holds no class labels; save them as y"),
    ({"X": np.ones((2, 3, 1)), "y": np.array([0, 1, 1])}, r"y should hold one label per sequence \(2\)"),
    ({"X": np.full((2, 3, 1), np.nan), "y": np.array([0, 1])}, r"X: sequence 0, step 0: NaN"),
    ({"X": np.ones((2, 3, 1)), "y": np.array([0, 1]), "lengths": np.array([0, 3])}, r"lengths should hold"),
])
def test_npz_errors_name_the_file(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        read_labelled_sequences(tmp_path / "bad.npz")


def test_archive_folder_layout(tmp_path):
    assert archive_files(tmp_path) is None
    write_ts(tmp_path / "Toy_TRAIN.ts", *ramps(4))
    with pytest.raises(ValueError, match="holds Toy_TRAIN.ts but not Toy_TEST.ts"):
        archive_files(tmp_path)
    write_ts(tmp_path / "Toy_TEST.ts", *ramps(4, seed=1))
    assert archive_files(tmp_path) == {"train": tmp_path / "Toy_TRAIN.ts", "test": tmp_path / "Toy_TEST.ts"}


# ---- sequence tasks --------------------------------------------------------------------------------
def test_sequence_task_from_an_archive_folder_keeps_its_test_file(tmp_path):
    write_ts(tmp_path / "Toy_TRAIN.ts", *ramps(30))
    write_ts(tmp_path / "Toy_TEST.ts", *ramps(10, seed=1))
    data = SequenceClassification(path=str(tmp_path), valid_fraction=0.2, protocol="holdout").load()
    assert data.ids["files"] == {"train": "Toy_TRAIN.ts", "valid": "Toy_TRAIN.ts", "test": "Toy_TEST.ts"}
    assert data.ids["test"] == list(range(10)) and sorted(data.ids["train"] + data.ids["valid"]) == list(range(30))
    assert data.meta["classes"] == ["flat", "rise"] and data.meta["num_features"] == 2


@pytest.mark.parametrize("suffix", [".ts", ".npz"])
def test_sequence_task_from_one_file_splits_off_valid_and_test(tmp_path, suffix):
    series, labels = ramps(40)
    if suffix == ".ts":
        write_ts(tmp_path / "toy.ts", series, labels)
    else:
        ragged = np.empty(len(series), dtype=object)
        ragged[:] = [s.T for s in series]
        np.savez(tmp_path / "toy.npz", X=ragged, y=np.array(labels))
    task = SequenceClassification(path=str(tmp_path / f"toy{suffix}"), valid_fraction=0.2, test_fraction=0.25,
                                  protocol="holdout")             # 40 < small_data: "auto" would cross-validate
    data = task.load()
    assert (len(data.train), len(data.valid), len(data.test)) == (22, 8, 10)
    assert sorted(data.ids["train"] + data.ids["valid"] + data.ids["test"]) == list(range(40))
    model = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    names = list(task.evaluate(model.eval(), [data.test]))
    table = task.baselines(data, ["test"])["test"]
    assert set(table) == {"1nn_dtw", "minirocket_ridge"}
    for metrics in table.values():                  # no probabilities: no loss, the rest named as evaluate's
        assert list(metrics) == [n for n in names if n != "loss"] and metrics["accuracy"] >= 0.9


def test_class_folders_record_their_paths_and_bucketed_baselines(tmp_path):
    write_ramps(tmp_path / "data" / "train", count=6)
    write_ramps(tmp_path / "data" / "test", count=3, seed=1)
    task = SequenceClassification(path=str(tmp_path / "data"), valid_fraction=0.2, bucket_size=4)
    data = task.load()
    assert "files" not in data.ids and data.ids["test"][:2] == ["test/east/0.csv", "test/east/1.csv"]
    assert len(data.ids["train"]) + len(data.ids["valid"]) == 18
    x, y = examples(data.test)
    assert len(x) == 9 and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]   # the filler rows dropped
    assert set(task.baselines(data, ["test"])["test"]) == {"1nn_dtw", "minirocket_ridge"}
    assert torch.get_num_threads() == 1             # numba's OpenMP start-up must not change torch's threads


def test_fixed_length_repeats_the_last_step_and_cuts():
    out = fixed_length([np.array([[1.0, 2.0]]), np.array([[1.0, 2.0, 3.0, 4.0]])], 3)
    assert out.tolist() == [[[1.0, 2.0, 2.0]], [[1.0, 2.0, 3.0]]]


def test_a_single_csv_is_not_a_sequence_dataset(tmp_path):
    (tmp_path / "one.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="a single CSV file is one sequence"):
        SequenceClassification(path=str(tmp_path / "one.csv")).load()


# ---- a run on a .ts archive folder, and predictions for a .ts file ---------------------------------
@pytest.fixture(scope="module")
def ts_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ts_run")
    write_ts(tmp / "Toy_TRAIN.ts", *ramps(30))
    write_ts(tmp / "Toy_TEST.ts", *ramps(10, seed=1))
    assert main(["train", "configs/classify_sequences.toml", f"--task.path={tmp}", f"--out_dir={tmp / 'run'}",
                 "--task.encoder=reservoir", "--task.pooling=mean_last", "--train.method=ridge",
                 "--model.hidden_size=20", "--model.bidirectional=false", "--train.plots=false"]) == 0
    return tmp / "run"


def test_a_run_on_ts_files_records_its_split(ts_run: Path):
    split = json.loads((ts_run / "split.json").read_text())["ids"]
    assert split["files"]["test"] == "Toy_TEST.ts" and split["test"] == list(range(10))
    table = json.loads((ts_run / "baselines.json").read_text())
    assert set(table["test"]) == {"model", "1nn_dtw", "minirocket_ridge"}


def test_predict_reads_ts_and_npz_files(ts_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    series, labels = ramps(6, seed=2)
    capsys.readouterr()
    assert main(["classify", "predict", str(ts_run), f"--file={write_ts(tmp_path / 'new.ts', series, labels)}"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[-1] for line in lines] == [f"new.ts[{i}]" for i in range(6)]
    assert sum(line.split("\t")[0] == label for line, label in zip(lines, labels)) >= 5
    np.savez(tmp_path / "new.npz", X=np.ones((2, 8, 3)))
    assert main(["classify", "predict", str(ts_run), str(tmp_path / "new.npz")]) == 2
    assert "new.npz, sequence 0: 3 features, but the model was trained on 2" in capsys.readouterr().err


def test_the_text_config_trains_on_a_csv_with_named_columns(tmp_path: Path):
    (tmp_path / "reviews.csv").write_text("id,review,sentiment\n" + "".join(f"{i},{t},{y}\n"
                                                                          for i, (t, y) in enumerate(reviews())))
    assert main(["train", "configs/classify_text_scratch.toml", f"--task.path={tmp_path / 'reviews.csv'}",
                 "--task.text_column=review", "--task.label_column=sentiment", f"--out_dir={tmp_path / 'run'}",
                 "--train.epochs=2", "--model.hidden_size=8", "--task.embedding_size=8", "--train.plots=false"]) == 0
    table = json.loads((tmp_path / "run" / "baselines.json").read_text())
    # "model" is what the run predicts: with a validated choice other than the network, the network has its own row
    choice = json.loads((tmp_path / "run" / "meta.json").read_text())["meta"]["selection"]["choice"]
    rows = ["model", "tfidf_logreg", "nb_logreg"] if choice == "network" else ["model", "network", "tfidf_logreg",
                                                                                 "nb_logreg"]
    assert list(table["test"]) == rows and table["test"]["tfidf_logreg"]["accuracy"] == 1.0
