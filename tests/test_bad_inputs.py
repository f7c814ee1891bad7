"""Bad input to a saved run: one line naming what changed, never a traceback or a silently wrong
score (issue #19)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main


def reviews(path, labels=("neg", "pos")):
    words = ("bad awful poor", "good nice fine")
    rows = ["text,label"] + [f"{words[i % 2]} {i},{labels[i % 2]}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("command", [["classify", "eval"], ["eval"]])
def test_evaluating_a_run_on_data_whose_labels_changed_is_refused(tmp_path, capsys, command):
    data, run_dir = reviews(tmp_path / "d.csv"), tmp_path / "run"
    assert main(["train", "configs/classify_text_scratch.toml", f"--task.path={data}", f"--out_dir={run_dir}",
                 "--train.epochs=1", "--train.baselines=false", "--train.plots=false", "--model.hidden_size=4"]) == 0
    text = data.read_text().splitlines()
    data.write_text("\n".join(text[:-1] + [text[-1].replace(",neg", ",neutral").replace(",pos", ",neutral")]) + "\n")
    capsys.readouterr()
    assert main([*command, str(run_dir), "--split=test"]) == 2      # a third label: a target out of range before
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "new labels ['neutral']" in err and "the run's classes: ['neg', 'pos']" in err
    reviews(data, labels=("pos", "neg"))                            # the same label set: evaluated like any data
    assert main([*command, str(run_dir), "--split=test"]) == 0


def test_a_model_too_big_for_memory_is_refused_before_allocating(tmp_path, capsys, monkeypatch):
    from rnnkit.runs import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**30)       # 1 GiB free, whatever the machine
    assert main(["train", "configs/adding_lstm.toml", "--model.hidden_size=20000", f"--out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "build a model of 1,600,340,001 parameters (6.0 GiB of weights; training needs about 23.8 GiB" in err
    assert "more than the 1.0 GiB free on cpu" in err and not (tmp_path / "r").exists()
    assert memory.parameter_bytes(lambda: torch.nn.Linear(3, 2)) == (8, 32)


def test_a_classification_file_that_is_not_utf8_names_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "u.csv"
    path.write_bytes(b"text,label\ngood,pos\n\xff\xfe bad,neg\n")
    assert main(["train", "configs/classify_text_scratch.toml", f"--task.path={path}",
                 f"--out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"rnnkit train: error: {path} is not UTF-8 text (line 3, byte 20: b'\\xff'); convert it first, "
                   "e.g. iconv -f latin1 -t utf-8 u.csv > u.utf8.csv")


def test_a_directory_given_as_an_audio_file_says_so(tmp_path):
    from rnnkit.data.audio import read_audio

    with pytest.raises(FileNotFoundError, match="is a directory: give one audio file"):
        read_audio(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_audio(tmp_path / "none.wav")


def test_a_truncated_wav_is_read_with_a_warning(tmp_path):
    import warnings

    import numpy as np
    import soundfile as sf

    from rnnkit.data.audio import read_audio

    sf.write(tmp_path / "a.wav", (0.5 * np.sin(np.arange(16000) / 5)).astype("float32"), 16000, subtype="PCM_16")
    whole = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_audio(tmp_path / "a.wav")) == 16000                  # whole: no warning
    with pytest.warns(UserWarning, match=r"cut.wav is truncated: its header declares 32,000 bytes of audio but "
                                         r"the file holds 15,978"):
        assert len(read_audio(tmp_path / "cut.wav")) == 7989


def test_dead_tuning_workers_are_one_line_with_the_signal(tmp_path, monkeypatch):
    from rnnkit.tune import worker

    class Dead:                                        # a worker process that the kernel killed, and one that ended
        codes = iter([-9, 0])

        def __init__(self, target, args):
            self.exitcode = next(Dead.codes)

        def start(self):
            pass

        def join(self):
            pass

    monkeypatch.setattr(worker.multiprocessing, "get_context", lambda kind: type("C", (), {"Process": Dead}))
    with pytest.raises(worker.WorkersFailed, match=r"1 of 2 tuning workers failed \(killed by SIGKILL\) \(SIGKILL "
                                                   r"often means out of memory.*rnnkit tune --resume"):
        worker.spawn(tmp_path, 2)
