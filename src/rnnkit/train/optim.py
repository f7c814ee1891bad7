"""Optimisers and learning-rate schedules by name, weight decay groups, and NT-ASGD.

`make_optimizer` splits parameters as nanoGPT does: weights with dim() >= 2 decay; biases,
layer-norm gains and other vectors don't (decaying them only hurts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from .protocols import LayerGrouped

if TYPE_CHECKING:
    from ..config import OptimConfig


class NTASGD(Optimizer):
    """Non-monotonically triggered averaged SGD (Merity et al. 2017, algorithm 1): plain SGD
    until the validation metric is worse than the best of all but the last `nonmono`
    evaluations, then SGD whose iterates are averaged (Polyak & Juditsky 1992); the average,
    state["ax"], is what gets evaluated and saved. `observe(value)` takes each validation
    value (lower is better)."""

    def __init__(self, params: Any, lr: float, *, nonmono: int = 5, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})
        self.nonmono, self.averaging, self.history = nonmono, False, []

    def observe(self, value: float) -> None:
        if not self.averaging and len(self.history) > self.nonmono and value > min(self.history[:-self.nonmono]):
            self.averaging = True
        self.history.append(value)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad if not group["weight_decay"] else p.grad.add(p, alpha=group["weight_decay"]),
                       alpha=-group["lr"])
                if self.averaging:
                    state = self.state[p]
                    state["n"] = state.get("n", 0) + 1
                    if state["n"] == 1:
                        state["ax"] = p.detach().clone()
                    else:
                        state["ax"].lerp_(p, 1.0 / state["n"])         # running mean of iterates

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "ntasgd": {"averaging": self.averaging, "history": list(self.history)}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop("ntasgd")
        super().load_state_dict(state_dict)
        self.averaging, self.history = extra["averaging"], list(extra["history"])


OPTIMIZERS: dict[str, Callable[[list[dict], OptimConfig], Optimizer]] = {
    "sgd": lambda groups, c: torch.optim.SGD(groups, lr=c.lr),
    "momentum": lambda groups, c: torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov),
    "adagrad": lambda groups, c: torch.optim.Adagrad(groups, lr=c.lr, eps=c.eps),
    "adadelta": lambda groups, c: torch.optim.Adadelta(groups, lr=c.lr, rho=c.rho, eps=c.eps),
    "rmsprop": lambda groups, c: torch.optim.RMSprop(groups, lr=c.lr, alpha=c.alpha, eps=c.eps),
    "adam": lambda groups, c: torch.optim.Adam(groups, lr=c.lr, betas=c.betas, eps=c.eps),
    "adamw": lambda groups, c: torch.optim.AdamW(groups, lr=c.lr, betas=c.betas, eps=c.eps),
    # AWD-LSTM's settings: no learning-rate decay, averaging from the first step
    "asgd": lambda groups, c: torch.optim.ASGD(groups, lr=c.lr, lambd=0.0, t0=0.0),
    "ntasgd": lambda groups, c: NTASGD(groups, c.lr, nonmono=c.nonmono),
}

# multiplier of the base learning rate at iteration it (0-based) of `total`
SCHEDULES: dict[str, Callable[[OptimConfig, int], Callable[[int], float] | None]] = {
    "constant": lambda c, total: lambda it: 1.0,
    "step": lambda c, total: lambda it: c.gamma ** (max(0, it - c.step_start) // c.step_size),
    "cosine": lambda c, total: lambda it: _cosine(it, c.warmup, total, c.min_lr / c.lr),
    "plateau": lambda c, total: None,                          # ReduceLROnPlateau, stepped by evaluations
    "slanted_triangular": lambda c, total: lambda it: slanted_triangular(it, total, c.cut_frac, c.ratio),
}


def slanted_triangular(it: int, total: int, cut_frac: float, ratio: float) -> float:
    """Howard & Ruder (2018), eq. 3: a short linear rise over the first cut_frac of the iterations
    from 1/ratio to 1, then a long linear decay back to 1/ratio, so a fine-tuned model moves
    quickly to a good region and then refines it."""
    cut = max(1, math.floor(total * cut_frac))
    p = it / cut if it < cut else 1 - (it - cut) / max(1, total - cut)
    return (1 + max(0.0, p) * (ratio - 1)) / ratio


def _cosine(it: int, warmup: int, total: int, floor: float) -> float:
    progress = min(1.0, max(0, it - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> Optimizer:
    """The optimiser over the trainable parameters. A model with layer groups (`LayerGrouped`) and
    optim.layer_decay > 1 gets discriminative rates: lr for its top group, lr / decay for the one
    below, and so on down (Howard & Ruder 2018, eq. 2)."""
    trainable = lambda ps: [p for p in ps if p.requires_grad]
    if isinstance(model, LayerGrouped) and cfg.layer_decay > 1:
        layers = model.layer_groups()
        rates = [cfg.lr / cfg.layer_decay ** (len(layers) - 1 - k) for k in range(len(layers))]
    else:
        layers, rates = [list(model.parameters())], [cfg.lr]
    groups = []
    for params, lr in zip(layers, rates):
        params = trainable(params)
        if not cfg.weight_decay:               # one group: one set of fused/foreach kernel launches
            groups.append({"params": params, "weight_decay": 0.0, "lr": lr})
            continue
        groups += [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay, "lr": lr},
                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0, "lr": lr}]
    return OPTIMIZERS[cfg.name]([g for g in groups if g["params"]], cfg)


def make_schedule(optimizer: Optimizer, cfg: OptimConfig, total: int) -> LRScheduler | ReduceLROnPlateau:
    factor = SCHEDULES[cfg.schedule](cfg, total)
    if factor is None:
        return ReduceLROnPlateau(optimizer, mode="min", factor=cfg.gamma, patience=cfg.plateau_patience)
    warm = lambda it: min(1.0, (it + 1) / cfg.warmup) if cfg.warmup else 1.0
    return LambdaLR(optimizer, lambda it: warm(it) * factor(it))


def after_update(schedule: LRScheduler | ReduceLROnPlateau) -> None:
    if not isinstance(schedule, ReduceLROnPlateau):
        schedule.step()


def after_evaluation(optimizer: Optimizer, schedule: LRScheduler | ReduceLROnPlateau, value: float) -> None:
    """Feeds a validation value (lower is better) to the plateau schedule and NT-ASGD's trigger."""
    if isinstance(schedule, ReduceLROnPlateau):
        schedule.step(value)
    if isinstance(optimizer, NTASGD):
        optimizer.observe(value)


@contextmanager
def averaged(optimizer: Optimizer) -> Iterator[None]:
    """Inside the block, parameters hold their averaged values (ASGD, NT-ASGD) where there are any."""
    pairs = [(p, optimizer.state[p]["ax"]) for group in optimizer.param_groups for p in group["params"]
             if "ax" in optimizer.state.get(p, {})]
    _swap(pairs)
    try:
        yield
    finally:
        _swap(pairs)


def _swap(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for p, ax in pairs:
            keep = p.detach().clone()
            p.copy_(ax)
            ax.copy_(keep)
