"""A study's pictures for `rnnkit tune`, drawn by Optuna's matplotlib visualisation: history.png,
slice.png, importances.png (PED-ANOVA; two or more finished trials) and contour.png (two or more
parameters). Optuna is imported here only when a study is drawn.

    plot_study(study, Path("runs/x-tune/plots"), parameters=len(spec.space))
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from .png import save_png


def plot_study(study: Any, folder: Path, parameters: int) -> None:
    """Optuna's matplotlib plots of `study` (an optuna.Study) searching `parameters` parameters;
    one that cannot be drawn yet (too few trials) is skipped with a note."""
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
