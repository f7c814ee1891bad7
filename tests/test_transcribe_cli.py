"""rnnkit transcribe on the tone-word runs of test_speech_task: text, timestamps, beam search,
streaming == whole file, scoring a split and a folder, and errors that name the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks.speech.predictor import word_times
from test_speech_task import trained_run, write_tones


@pytest.fixture(scope="module")
def run():
    return trained_run()


def transcripts(out: str) -> list[str]:
    return [line.split("\t")[1] for line in out.splitlines() if not line.startswith("\t")]


def test_timestamps_and_beam(run, tmp_path, capsys):
    files = write_tones(tmp_path, ["up", "no"], seed=3)
    assert main(["transcribe", str(run), *map(str, files), "--timestamps", "--beam=4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"{files[0]}\tup" and lines[2] == f"{files[1]}\tno"
    for line in (lines[1], lines[3]):
        start, end, word = line.strip().split("\t")
        assert 0.0 <= float(start) < float(end) <= 0.6 and word in ("up", "no")


def test_decoding_settings_may_be_overridden(run, tmp_path, capsys):
    files = write_tones(tmp_path, ["no"], seed=4)
    assert main(["transcribe", str(run), str(files[0]), "--beam=3", "--task.lexicon=true", "--task.lm_order=2"]) == 0
    assert capsys.readouterr().out == f"{files[0]}\tno\n"
    assert main(["transcribe", str(run), str(files[0]), "--train.iterations=3"]) == 2
    assert "changes only decoding settings" in capsys.readouterr().err


def test_streaming_equals_the_whole_file(run, tmp_path, capsys):
    files = write_tones(tmp_path, ["up no up no"], seed=5)                     # 1.3 s, four words
    predictor = rnnkit.load(run).predictor
    whole = predictor.log_probs(files[0])
    for frames in (1, 7, 25):
        torch.testing.assert_close(predictor.log_probs(files[0], chunk_frames=frames), whole, atol=1e-4, rtol=1e-4)
    assert main(["transcribe", str(run), str(files[0])]) == 0
    expected = transcripts(capsys.readouterr().out)
    assert main(["transcribe", str(run), str(files[0]), "--stream", "--chunk-seconds=0.2"]) == 0
    out, err = capsys.readouterr()
    assert transcripts(out) == expected and expected[0].replace(" ", "")
    partial = [line.split("\t") for line in err.strip().splitlines()]              # FILE, seconds so far, text
    seconds = [float(p[1].removesuffix(" s")) for p in partial]
    assert seconds == sorted(seconds) and len(partial) == 7 and partial[-1][2] == expected[0]


def test_stream_refuses_a_bidirectional_model(tmp_path, capsys):
    files = write_tones(tmp_path, ["up"], seed=2)
    assert main(["transcribe", str(trained_run(True, 2)), str(files[0]), "--stream"]) == 2
    assert "--stream needs a unidirectional model" in capsys.readouterr().err


def test_scores_a_split_and_a_folder(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    assert main(["transcribe", str(run), "--split=valid", "--beam=2"]) == 0
    out, err = capsys.readouterr()
    assert '"wer": 0.0' in out and '"beam_wer": 0.0' in out and '"utterances": 8' in out
    assert (run / "posteriograms" / "valid_0.png").stat().st_size > 1000 and "wrote" in err
    write_tones(tmp_path / "folder", ["up", "no", "no"], seed=9)
    assert main(["transcribe", str(run), f"--data={tmp_path / 'folder'}"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[0].endswith("\tup\t(reference: up)") and '"wer": 0.0' in lines[-1]


def test_bad_inputs_name_the_file(run, tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    assert main(["transcribe", str(run), str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    assert main(["transcribe", str(run), str(broken)]) == 2
    assert str(broken) in capsys.readouterr().err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 3), np.float32))
    assert main(["transcribe", str(run), str(wrong)]) == 2
    err = capsys.readouterr().err
    assert str(wrong) in err and "(T >= 1, 20)" in err
    assert main(["transcribe", str(run)]) == 2
    assert "give audio FILEs" in capsys.readouterr().err
    assert main(["transcribe", str(tmp_path), "x.wav"]) == 2                       # not a run directory
    assert "error" in capsys.readouterr().err


def test_word_times_from_character_frames():
    characters = " abcdefghijklmnopqrstuvwxyz'"
    ids = {c: characters.index(c) + 1 for c in "up no"}
    pairs = [(ids["u"], 3), (ids["p"], 9), (ids[" "], 14), (ids["n"], 20), (ids["o"], 26)]
    assert word_times(pairs, characters, 0.02) == [("up", pytest.approx(0.06), pytest.approx(0.2)),
                                                   ("no", pytest.approx(0.4), pytest.approx(0.54))]
