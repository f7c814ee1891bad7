"""The memory a model will need, estimated before any of it is allocated: the model is built on
torch's "meta" device (shapes, no storage), so `--model.hidden_size=1000000000` is refused at once
with the estimate, instead of an allocator error after seconds (or the machine swapping).

Training holds the weights, their gradients and the optimiser's state (Adam: two moments), so the
estimate is 4x the parameters' bytes; activations come on top and are not counted."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

TRAINING_COPIES = 4          # weights, gradients, Adam's first and second moments


def parameter_bytes(build: Callable[[], nn.Module]) -> tuple[int, int] | None:
    """(parameter count, bytes of the parameters and buffers) `build()` would allocate, or None when
    it cannot be built on the meta device (a model that reads weights while it is built)."""
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            model = build()
    except Exception:           # noqa: BLE001 - no estimate; the real build reports its own errors
        return None
    tensors = [*model.parameters(), *model.buffers()]
    return sum(p.numel() for p in model.parameters()), sum(t.numel() * t.element_size() for t in tensors)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on `device`: MemAvailable of /proc/meminfo on the CPU, the driver's count on CUDA."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        found = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), flags=re.M)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def check_memory(build: Callable[[], nn.Module], device: torch.device, what: str) -> None:
    """A ValueError, before anything is allocated, when training the model `build()` makes would
    need more memory than `device` has free; `what` names the settings to change."""
    counted, free = parameter_bytes(build), available_bytes(device)
    if counted is None or free is None or TRAINING_COPIES * counted[1] <= free:
        return
    count, size = counted
    gib = lambda n: f"{n / 2**30:.1f} GiB"
    raise ValueError(f"{what} build a model of {count:,} parameters ({gib(size)} of weights; training needs about "
                     f"{gib(TRAINING_COPIES * size)} with gradients and optimiser state), more than the "
                     f"{gib(free)} free on {device.type}; choose smaller model settings")
