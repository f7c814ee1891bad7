"""Property-based bad input (issue #19): random bytes and random mutations of valid configs, CSVs,
text tables, .ts files, WAVs, safetensors and checkpoints. Whatever the bytes, a reader either
returns or raises one of the errors the CLI prints as one line (a ValueError, a CheckpointError, a
missing file); never an IndexError, KeyError, UnicodeDecodeError or anything else that would end in
a traceback."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.train.checkpoint import CheckpointError, load_weights, read_state, save

CLEAR = (ValueError, CheckpointError, FileNotFoundError)      # what rnnkit.cli.main prints as one line
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CONFIG = Path("configs/adding_lstm.toml").read_text()
SERIES_CSV = "series_id,timestamp,value\n" + "".join(f"a,2020-01-{d:02d},{d * 1.5}\n" for d in range(1, 29))
TEXT_CSV = "text,label\n" + "".join(f"review number {i} was {'good' if i % 2 else 'bad'},{i % 2}\n" for i in range(20))
TS = "@problemName x\n@univariate true\n@classLabel true a b\n@data\n1.0,2.0,3.0:a\n4.0,5.0,6.0:b\n"


def mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """`valid` with a random slice replaced by random bytes, cut short, or duplicated in part."""
    n = len(valid)

    def apply(op: str, i: int, j: int, junk: bytes) -> bytes:
        i, j = sorted((i % (n + 1), j % (n + 1)))
        return {"replace": valid[:i] + junk + valid[j:], "truncate": valid[:i],
                "repeat": valid[:j] + valid[i:j] + valid[j:], "flip": valid[:i] + bytes(b ^ 0xFF for b in valid[i:j])
                + valid[j:]}[op]

    return st.builds(apply, st.sampled_from(["replace", "truncate", "repeat", "flip"]), st.integers(0, n),
                     st.integers(0, n), st.binary(max_size=24))


def inputs(valid: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), mutated(valid))


ROOT = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-"))
atexit.register(shutil.rmtree, ROOT, True)


def holds(data: bytes, suffix: str) -> Path:
    folder = Path(tempfile.mkdtemp(dir=ROOT))
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    return path


def clear(call) -> None:
    """Runs `call`; only a one-line-able error may come out of it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except CLEAR as error:
            assert str(error).strip(), f"{type(error).__name__} without a message"


@FUZZ
@given(inputs(CONFIG.encode()))
def test_any_config_file_is_read_or_refused_clearly(data: bytes) -> None:
    clear(lambda: rnnkit.load_config(holds(data, ".toml")))


@FUZZ
@given(inputs(SERIES_CSV.encode()))
def test_any_series_csv_is_read_or_refused_clearly(data: bytes) -> None:
    from rnnkit.data.series import load_series

    clear(lambda: load_series(holds(data, ".csv")))


@FUZZ
@given(inputs(TEXT_CSV.encode()), st.sampled_from([".csv", ".tsv", ".jsonl"]))
def test_any_text_table_is_read_or_refused_clearly(data: bytes, suffix: str) -> None:
    from rnnkit.data.text_tables import read_text_table

    clear(lambda: read_text_table(holds(data, suffix)))


@FUZZ
@given(inputs(TS.encode()))
def test_any_ts_file_is_read_or_refused_clearly(data: bytes) -> None:
    from rnnkit.data.sequence_files import read_sequences

    clear(lambda: read_sequences(holds(data, ".ts"), 1))


def wav_bytes() -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(np.arange(800) / 3)).astype("float32"), 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@FUZZ
@given(inputs(wav_bytes()))
def test_any_wav_is_read_or_refused_clearly(data: bytes) -> None:
    from rnnkit.data.audio import read_audio

    clear(lambda: read_audio(holds(data, ".wav"), 8000))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, bytes, bytes]:
    """A tiny model's model.safetensors and train_state.pt, written as a run writes them."""
    folder = tmp_path_factory.mktemp("ckpt")
    model = torch.nn.LSTM(3, 4)
    optimizer = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0)

    class Progress:
        iteration, position, state, best, best_iteration, bad_evals, skipped, metrics = 3, (0,), None, 1.0, 2, 0, 0, {}

    save(folder, model, optimizer, schedule, torch.amp.GradScaler("cpu", enabled=False), Progress())
    return model, (folder / "model.safetensors").read_bytes(), (folder / "train_state.pt").read_bytes()


@FUZZ
@given(data=st.data())
def test_any_weights_file_loads_intact_or_is_refused(checkpoint, data) -> None:
    model, weights, _ = checkpoint
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    path = holds(data.draw(inputs(weights)), ".safetensors")
    try:
        load_weights(model, path.parent, path.name)
    except CheckpointError:
        return
    finally:
        model.load_state_dict(saved)
    # it loaded, so it passed its checksum: the weights are exactly the saved ones (a change could
    # only have hit bytes no tensor reads, such as header padding)
    loaded = load_weights(torch.nn.LSTM(3, 4), path.parent, path.name).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.items())


@FUZZ
@given(data=st.data())
def test_any_train_state_is_read_or_refused_clearly(checkpoint, data) -> None:
    _, _, state = checkpoint
    path = holds(data.draw(inputs(state)), ".pt")
    path.rename(path.with_name("train_state.pt"))
    clear(lambda: read_state(path.parent))
