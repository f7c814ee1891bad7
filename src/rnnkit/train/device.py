"""Where training runs: the device and mixed precision (train.device, train.amp), and the
processes of a torchrun job (DistributedDataParallel, values and flags shared by all ranks)."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


def resolve_device(name: str, world: int = 1, amp: str = "none") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"train.device = {name!r} but CUDA is not available; use train.device = 'cpu'")
    if amp == "fp16" and not name.startswith("cuda"):
        raise ValueError("train.amp = 'fp16' needs a CUDA device; use train.amp = 'bf16' or 'none' on a CPU")
    if name == "cuda" and world > 1:
        name = f"cuda:{dist.get_rank() % torch.cuda.device_count()}"
    return torch.device(name)


def autocast(device: torch.device, amp: str) -> torch.autocast:
    """train.amp's autocast context: bf16, fp16 or disabled ("none")."""
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16,
                          enabled=amp != "none")


def world() -> tuple[int, int]:
    """(rank, world size): (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def wrap(model: nn.Module, device: torch.device, world: int) -> nn.Module:
    """The model as the loop calls it: DistributedDataParallel under torchrun, else itself."""
    if world == 1:
        return model
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def mean(values: Tensor, net: nn.Module) -> Tensor:
    """Values averaged over processes (the loss; the gradient norm is already the same on all)."""
    if isinstance(net, DistributedDataParallel):
        dist.all_reduce(values)
        values = values / dist.get_world_size()
    return values


def flag(raised: bool, device: torch.device, world: int) -> bool:
    """True on every process when any process raised the flag (so all stop at the same iteration)."""
    if world == 1:
        return raised
    raised_anywhere = torch.tensor([float(raised)], device=device)
    dist.all_reduce(raised_anywhere, op=dist.ReduceOp.MAX)
    return bool(raised_anywhere.item())
