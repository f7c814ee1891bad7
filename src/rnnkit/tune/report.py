"""What a finished (or interrupted) study leaves in its tuning directory:

    best.toml      the best trial's full config: `rnnkit train DIR/best.toml` trains it again
    trials.csv     every trial: number, state, value, parameters, times (study.trials_dataframe())
    plots/         history.png, importances.png (PED-ANOVA), slice.png, contour.png (two or more parameters)
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from ..config import RunConfig, to_dict
from ..io import toml as _toml
from ..plots.png import save_png
from ..runs.configs import replace
from .space import TuneConfig


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
        _plots(study, directory / "plots", len(spec.space))
    where = spec.storage or str(directory / "study.journal")
    summary["dashboard"] = f"optuna-dashboard {where}"
    return summary


def write_best(path: Path, base: RunConfig, params: dict[str, Any], *, note: str) -> None:
    """The base config with the best parameters, training into `<out_dir>-best`."""
    from .search import overrides

    cfg = replace(base, overrides(params) + [f"--out_dir={_toml._value(base.out_dir + '-best')}"])
    text = f"# The best configuration found by rnnkit tune ({note}).\n# Train it again: rnnkit train {path}\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text + _toml.dumps(to_dict(cfg)))
    tmp.replace(path)


def _plots(study: Any, folder: Path, parameters: int) -> None:
    """Optuna's matplotlib plots; one that cannot be drawn yet (too few trials) is skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as vis

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE
                and math.isfinite(t.value)]
    if not complete:
        return
    folder.mkdir(parents=True, exist_ok=True)
    plots = {"history": lambda: vis.plot_optimization_history(study),
             "slice": lambda: vis.plot_slice(study)}
    if len(complete) >= 2:
        plots["importances"] = lambda: vis.plot_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    if parameters >= 2 and len(complete) >= 2:
        plots["contour"] = lambda: vis.plot_contour(study)
    for name, draw in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # optuna.visualization.matplotlib is "experimental"
            try:
                axes = draw()
            except (ValueError, RuntimeError, ZeroDivisionError) as error:
                print(f"rnnkit tune: skipped plots/{name}.png: {error}", flush=True)
                continue
        figure = np.asarray(axes).flat[0].figure
        save_png(figure, folder / f"{name}.png", bbox_inches="tight")
