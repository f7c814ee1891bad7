"""What a finished (or interrupted) study leaves in its tuning directory:

    best.toml      the best trial's full config: `rnnkit train DIR/best.toml` trains it again
    trials.csv     every trial: number, state, value, parameters, times (study.trials_dataframe())
    plots/         history.png, importances.png (PED-ANOVA), slice.png, contour.png (two or more parameters):
                   drawn by plots/tune.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import RunConfig, to_dict
from ..io import toml
from ..plots.tune import plot_study
from ..runs.configs import replace
from .space import TuneConfig, overrides


def report(study: Any, base: RunConfig, spec: TuneConfig, directory: Path) -> dict[str, Any]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}
    study.trials_dataframe().to_csv(directory / "trials.csv", index=False)
    summary: dict[str, Any] = {"directory": str(directory), "study": spec.study, "trials": counts}
    if counts["complete"]:
        best = study.best_trial
        write_best(directory / "best.toml", base, best.params, note=f"trial {best.number} of the study "
                   f"{spec.study!r} in {directory}: {spec.metric or 'value'} = {best.value!r}")
        summary.update(best_value=best.value, best_trial=best.number, best_params=best.params,
                       best_config=str(directory / "best.toml"))
    if spec.plots:
        plot_study(study, directory / "plots", len(spec.space))
    where = spec.storage or str(directory / "study.journal")
    summary["dashboard"] = f"optuna-dashboard {where}"
    return summary


def write_best(path: Path, base: RunConfig, params: dict[str, Any], *, note: str) -> None:
    """The base config with the best parameters, training into `<out_dir>-best`."""
    cfg = replace(base, overrides(params) + [f"--out_dir={toml.value(base.out_dir + '-best')}"])
    text = f"# The best configuration found by rnnkit tune ({note}).\n# Train it again: rnnkit train {path}\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text + toml.dumps(to_dict(cfg)))
    tmp.replace(path)
