"""Per-step classifier-free guidance scales (docs/design.md §3–§4), and SDE-Drag's falling LoRA scale.

Step i runs from σ_i to σ_{i+1} and evaluates the model at σ_i with scale w_i:

    constant   w_i = cfg
    linear     w_i = u_i·cfg + (1 − u_i)·1,   u_i = (n − 1 − i) / (n − 1)    (SDE-Drag's CFG schedule)

so the linear schedule gives cfg at t0 (step 0) and 1 at the last step, and cfg when n = 1.
(The authors' code, utils/drag.py, is off by one: its scales are 1 + (cfg − 1)·k/(n − 1) for
k = n … 1, from a little above cfg down to a little above 1.) A recording and its replay use the
same scales at the same steps; a DDIM inversion uses w_i for the step that undoes stage-2 step i.
"""

import math

import torch
from torch import Tensor

from .schedule import check_steps

SCHEDULES = ("constant", "linear")


def guidance_scales(
    steps: int, cfg: float, schedule: str = "constant", dtype: torch.dtype = torch.float64
) -> Tensor:
    """The 1-D tensor [w_0 … w_{n−1}] of guidance scales for n = `steps` steps (see the module doc)."""
    check_steps(steps)
    if not math.isfinite(cfg):
        raise ValueError(f"cfg must be a finite number, got {cfg!r}")
    if schedule == "constant":
        return torch.full((steps,), float(cfg), dtype=dtype)
    if schedule == "linear":
        if steps == 1:
            return torch.tensor([float(cfg)], dtype=dtype)
        u = torch.arange(steps - 1, -1, -1, dtype=torch.float64) / (steps - 1)
        return (u * cfg + (1 - u)).to(dtype)
    raise ValueError(f"unknown guidance schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")


def falling_lora_scale(u: float, lora_min: float) -> float:
    """SDE-Drag's LoRA scale at u = t / t0 ∈ [0, 1]: 1 − (1 − lora_min)·(1 − cos(π·u))/2.

    1 at t = 0 (the clean image, where the LoRA that learned it helps most), lora_min at t0 (0.5 in the
    authors' code), on a cosine between; the authors' `scale_schedule(1, lora_scale_min, k, n − 1, 'cos')`
    at step k of n, written in the level instead of the step index so it holds on any grid.
    """
    if not 0.0 <= u <= 1.0:
        raise ValueError(f"u = t / t0 must lie in [0, 1], got {u}")
    return 1.0 - (1.0 - lora_min) * (1.0 - math.cos(math.pi * u)) / 2.0
