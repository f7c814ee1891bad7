"""rnnkit tune in one process: grid, seeds, pruning through fit's on_eval hook, outputs, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

pytest.importorskip("optuna")

import optuna  # noqa: E402

from rnnkit import load_config, run  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.io.fields import ConfigError  # noqa: E402
from rnnkit.tune.search import tune  # noqa: E402
from rnnkit.tune.space import SETUP_FILE, load_tune  # noqa: E402

ESN = """
seed = 0
out_dir = "{out}/esn"

[task]
name = "chaotic_series"
train_steps = 800
valid_steps = 400
test_steps = 400
washout = 100
horizon = 20

[model]
hidden_size = 30

[train]
method = "ridge"
plots = false

[tune]
plots = false
trials = 4
metric = "nrmse_20"
sampler = "{sampler}"
startup_trials = 2
[tune.space]
"task.spectral_radius" = {{ {radius} }}
"task.alpha" = {{ {alpha} }}
"""

GRID = dict(radius="low = 0.6, high = 1.2, step = 0.3", alpha="choices = [1e-8, 1e-4]")
RANGES = dict(radius="low = 0.5, high = 1.4", alpha="low = 1e-10, high = 1e-2, log = true")


def esn_config(tmp_path: Path, sampler: str = "random", **space: str) -> Path:
    path = tmp_path / "esn.toml"
    path.write_text(ESN.format(out=tmp_path, sampler=sampler, **(space or RANGES)))
    return path


def trials(directory: Path) -> list[optuna.trial.FrozenTrial]:
    base, spec = load_tune(directory / SETUP_FILE)
    backend = optuna.storages.journal.JournalFileBackend(str(directory / "study.journal"))
    storage = optuna.storages.JournalStorage(backend)
    return optuna.load_study(study_name=spec.study, storage=storage).get_trials()


def test_grid_covers_the_grid_exactly_once_and_best_toml_reproduces(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    summary = tune(esn_config(tmp_path, "grid", **GRID), ["--tune.trials=0", "--tune.plots=true"])
    done = trials(Path(summary["directory"]))
    points = sorted((t.params["task.spectral_radius"], t.params["task.alpha"]) for t in done)
    assert points == sorted(itertools.product([0.6, 0.9, 1.2], [1e-8, 1e-4]))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    directory = Path(summary["directory"])
    for name in ("trials.csv", "best.toml", "plots/history.png", "plots/importances.png", "plots/slice.png",
                 "plots/contour.png"):
        assert (directory / name).is_file(), name
    assert len((directory / "trials.csv").read_text().splitlines()) == 7
    capsys.readouterr()
    assert main(["train", str(directory / "best.toml")]) == 0                      # train the best again
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    again = next(row for row in printed if row.get("split") == "valid")        # the baselines' table follows
    assert again["nrmse_20"] == summary["best_value"]


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_a_seeded_run_is_reproducible(tmp_path: Path, sampler: str) -> None:
    runs = []
    for name in ("a", "b"):
        summary = tune(esn_config(tmp_path, sampler), [f"--tune.out_dir={tmp_path / name}"])
        runs.append([(t.params, t.value) for t in trials(Path(summary["directory"]))])
    assert runs[0] == runs[1] and len(runs[0]) == 4
    other = tune(esn_config(tmp_path, sampler), [f"--tune.out_dir={tmp_path / 'c'}", "--tune.seed=1"])
    assert [t.params for t in trials(Path(other["directory"]))] != [p for p, _ in runs[0]]


ADDING = """
seed = 1
out_dir = "{out}/adding"

[task]
name = "adding"
length = 10
train_size = 200
valid_size = 100

[model]
hidden_size = 8

[train]
iterations = 20
batch_size = 50
eval_every = 5
plots = false

[optim]
lr = 0.05

[tune]
plots = false
sampler = "grid"
seed = 1                            # Optuna's grid order is shuffled; with this seed the good lr runs first
pruner = "median"
prune_startup = 1
metric = "mse"
[tune.space]
"optim.lr" = {{ choices = [0.05, 1e-7] }}
"""


def test_pruning_stops_a_bad_trial_at_its_first_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "adding.toml"
    path.write_text(ADDING.format(out=tmp_path))
    summary = tune(path)
    good, bad = trials(Path(summary["directory"]))
    assert (good.params["optim.lr"], bad.params["optim.lr"]) == (0.05, 1e-7)
    assert good.state == optuna.trial.TrialState.COMPLETE and sorted(good.intermediate_values) == [5, 10, 15, 20]
    assert bad.state == optuna.trial.TrialState.PRUNED and sorted(bad.intermediate_values) == [5]
    assert summary["trials"]["pruned"] == 1


@pytest.mark.parametrize("pruner", ["hyperband", "successive_halving"])
def test_hyperband_and_successive_halving_run(tmp_path: Path, pruner: str) -> None:
    path = tmp_path / "adding.toml"
    path.write_text(ADDING.format(out=tmp_path))
    summary = tune(path, [f"--tune.pruner={pruner}", "--tune.prune_warmup=5"])
    states = {t.state for t in trials(Path(summary["directory"]))}
    assert states <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert summary["trials"]["complete"] >= 1


def test_on_eval_returning_true_stops_training(tmp_path: Path) -> None:
    path = tmp_path / "adding.toml"
    path.write_text(ADDING.format(out=tmp_path))
    seen: list[int] = []
    run(load_config(path), on_eval=lambda iteration, metrics: seen.append(iteration) or iteration >= 10)
    assert seen == [5, 10]


@pytest.mark.parametrize(("change", "message"), [
    ({"radius": '"model.hiden_size" = { low = 10, high = 20 }\n"task.spectral_radius" = { low = 0.5, high = 1.4 }'},
     "did you mean model.hidden_size"),
    ({"radius": '"task.spectral_radius" = { low = 1.0, high = 1.0 }'}, "empty range"),
    ({"radius": '"task.spectral_radius" = { choices = [] }'}, "non-empty"),
    ({"radius": '"task.spectral_radius" = { low = 1.4, high = 0.5 }'}, "low > high"),
    ({"radius": '"task.spectral_radius" = { low = 0.0, high = 1.4, log = true }'}, "log scale needs low > 0"),
    ({"radius": '"task.spectral_radius" = { lo = 0.5, high = 1.4 }'}, "did you mean 'low'"),
    ({"radius": '"model.hidden_size" = { low = 10.5, high = 20 }'}, "must be integers"),
    ({"radius": '"train.batch_size" = { low = 0, high = 8 }'}, "train.batch_size = 0 is not a valid config"),
    ({"overrides": ["--tune.metric=nrmse_21"]}, "did you mean .nrmse_20."),
    ({"overrides": ["--tune.sampler=bayes"]}, "tune.sampler"),
    ({"overrides": ["--tune.trails=3"]}, "did you mean tune.trials"),
    ({"overrides": ["--tune.storage=postgresql://nobody@127.0.0.1:9/none"]}, "cannot open the storage"),
])
def test_bad_input_is_one_clear_error_before_any_trial(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "esn.toml"
    text = ESN.format(out=tmp_path, sampler="random", **RANGES)
    if "radius" in change:
        head, _, _ = text.partition('"task.spectral_radius"')
        text = head + change["radius"] + "\n"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        tune(path, change.get("overrides", []))
    assert not (tmp_path / "esn-tune" / "trials").exists()


def test_the_cli_reports_errors_and_refuses_to_reuse_a_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    path = esn_config(tmp_path)
    assert main(["tune", str(path), "--tune.trials=1"]) == 0
    assert '"best_config"' in capsys.readouterr().out
    assert main(["tune", str(path)]) == 2
    assert "rnnkit tune --resume" in capsys.readouterr().err
    assert main(["tune", "--resume", str(tmp_path / "esn-tune"), "--tune.trials=2"]) == 0
    assert len(trials(tmp_path / "esn-tune")) == 2                               # a larger budget extends it
    assert main(["train", str(path), f"--out_dir={tmp_path / 'plain'}"]) == 0    # train ignores [tune]
