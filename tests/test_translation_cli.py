"""rnnkit train / eval / translate on a tiny TSV run: text, file (empty lines, unknown tokens,
references), the run's own split, heat maps; the shipped configs load."""

from __future__ import annotations

import json

import pytest

from rnnkit.cli import main
from rnnkit.runs.configs import load_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("translate")
    pairs = [f"{w} {v}\t{v} {w}" for w in "abcd" for v in ("xy", "zw", "uv")]
    (tmp / "pairs.tsv").write_text("\n".join(pairs * 3) + "\n", encoding="utf-8")
    run = tmp / "run"
    assert main(["train", "configs/translate_dates.toml", f"--out_dir={run}", f"--task.path={tmp / 'pairs.tsv'}",
                 "--task.level=char", "--task.embedding_size=8", "--task.tie_weights=true", "--task.bucket_size=4",
                 "--task.eval_sentences=4",
                 "--task.valid_fraction=0.2", "--task.test_fraction=0.2", "--model.hidden_size=8",
                 "--train.epochs=0", "--train.iterations=2", "--train.eval_every=0", "--train.plots=false"]) == 0
    return run


def test_eval_reports_translation_metrics(run_dir, capsys):
    assert main(["eval", str(run_dir), "--split=test"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"loss", "bleu", "chrf", "exact_match"} <= set(metrics)


def test_translate_text_file_and_split(run_dir, tmp_path, capsys):
    assert main(["translate", str(run_dir), "a xy", "--beam=2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    source, reference = tmp_path / "in.txt", tmp_path / "ref.txt"
    source.write_text("a xy\n\nb q!\n", encoding="utf-8")
    reference.write_text("xy a\n\nzw b\n", encoding="utf-8")
    assert main(["translate", str(run_dir), f"--file={source}", f"--reference={reference}", "--beam=1"]) == 0
    out, err = capsys.readouterr()
    lines = out.split("\n")
    assert len(lines) == 4 and lines[1] == ""                    # line order kept, empty line stays empty
    assert "1 empty line(s)" in err and "not in the vocabulary" in err and "'q'" in err
    assert json.loads(err.strip().splitlines()[-1])["sentences"] == 2
    assert main(["translate", str(run_dir), "--split=test", "--max-length=3"]) == 0
    assert "sentences" in capsys.readouterr().err


def test_heatmap_for_a_given_pair(run_dir, tmp_path, capsys):
    png = tmp_path / "map.png"
    assert main(["translate", str(run_dir), "a xy", "--target=xy a", f"--heatmap={png}"]) == 0
    assert png.stat().st_size > 0 and "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [(["--file=x", "--split=test"], "exactly one"),
                                         (["--split=test", "--heatmap=m.png"], "give TEXT")])
def test_bad_requests_are_one_line_errors(run_dir, capsys, argv, words):
    assert main(["translate", str(run_dir), *argv]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("name", ["dates", "bible_none", "bible_bahdanau", "bible_luong"])
def test_shipped_configs_load(name):
    cfg = load_config(f"configs/translate_{name}.toml")
    assert cfg.task.name == "translation" and cfg.out_dir == f"runs/translate_{name}"
