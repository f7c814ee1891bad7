"""train.restore_best (Keras's restore_best_weights): a run ends with the weights of its best
validation, not its last ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import BEST_FILE, STATE_FILE, WEIGHTS_FILE, load_weights, save_weights
from .optim import averaged


class BestWeights:
    """The weights validated best so far, kept in memory and, with a run directory, in
    best.safetensors (so a resumed run can still end with a best from before its interruption).
    They are the weights validation saw: the averaged ones under ASGD/NT-ASGD."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, run_dir: str | Path | None, *,
                 write: bool = True) -> None:
        self.model, self.optimizer, self.run_dir, self.write = model, optimizer, run_dir, write
        self.weights: dict[str, torch.Tensor] | None = None
        self.iteration = 0

    def keep(self, iteration: int) -> None:
        with averaged(self.optimizer):
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            if self.run_dir is not None and self.write:           # rank 0 writes; every rank may read
                save_weights(Path(self.run_dir) / BEST_FILE, self.model, iteration)
        self.iteration = iteration

    def restore(self, best_iteration: int) -> bool:
        """Puts the best weights into the model; False when there were none to restore."""
        if self.weights is not None and self.iteration == best_iteration:
            self.model.load_state_dict(self.weights)
            return True
        if best_iteration and self.run_dir is not None and (Path(self.run_dir) / BEST_FILE).is_file():
            load_weights(self.model, self.run_dir, BEST_FILE)     # from before a resume
            return True
        return False

    def finish(self, progress: Any, metric: str) -> None:
        """At the end of training: the best weights into the model (on every rank) and into the
        run directory's model.safetensors, saying so when they are not the last ones. `progress`
        is the loop's Progress; `metric` is train.metric ("": the task's first)."""
        if not self.restore(progress.best_iteration) or self.run_dir is None or not self.write:
            return
        save_weights(Path(self.run_dir) / WEIGHTS_FILE, self.model, progress.best_iteration)
        if progress.best_iteration != progress.iteration:
            print(f"restored the weights of iteration {progress.best_iteration}, the best validation "
                  f"{metric or next(iter(progress.metrics))}; {self.run_dir}/{STATE_FILE} keeps the "
                  "last ones for --resume", flush=True)
