"""What the pack reads from a ComfyUI MODEL, VAE and LATENT, and how it shows progress.

- the family of the model's Gaussian path, `ve` (EPS, V-prediction: x = x0 + σε) or `flow`
  (CONST: x = (1−σ)x0 + σε), read from what its `model_sampling` does (`kinds.py`, docs/design.md §1);
- the level grid: a full schedule of round(steps / t0) steps from ComfyUI's own scheduler
  functions, of which the last steps + 1 levels are kept (KSampler's `denoise` convention), so
  `t0` and `steps` mean the same on every family;
- what a trajectory remembers of the model that made it, and the checks of a LATENT against it;
- latent space ↔ model space (`process_latent_in` / `process_latent_out`), masks ↔ the latent grid;
- how many rows a batched call may hold in the free memory; progress bars with previews and Cancel.

Running the model (conditioning, CFG, the sampler inside ComfyUI's guider) is `guider.py`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import comfy.model_management
import comfy.model_patcher
import comfy.samplers
import comfy.sd
import comfy.utils
import latent_preview
import torch

from ...sampling.schedule import full_steps, keep_tail
from .. import limits
from . import kinds

SCHEDULERS = tuple(comfy.samplers.SCHEDULER_NAMES)


def is_model(value) -> bool:
    """A MODEL socket's value (a plain value typed into the prompt instead of a link is not)."""
    return isinstance(value, comfy.model_patcher.ModelPatcher)


def is_vae(value) -> bool:
    return isinstance(value, comfy.sd.VAE)


def model_sampling(model):
    return model.get_model_object("model_sampling")


def model_path(model) -> str:
    """`flow` for rectified-flow models, `ve` for EPS / V-prediction / EDM (VP in VE form), read from what the
    model's sampling does (kinds.noise_path); a ValueError naming the type for anything else."""
    return kinds.noise_path(model_sampling(model))


GRIDS = ("scheduler", "paper")


def level_grid(model, steps: int, t0: float, scheduler: str, grid: str = "scheduler") -> torch.Tensor:
    """σ_0 ≈ σ(t0) > … > σ_steps, float64, from a full schedule of N = round(steps / t0) steps.

    grid "scheduler": the tail of ComfyUI's `scheduler` schedule (as KSampler with denoise = t0), which
    ends at σ = 0. grid "paper": the authors' grid, uniform in the model's timestep over its training
    table (levels at table index round(k·L/N), k = steps … 0, L the table length), which ends at the
    lowest training level σ_min > 0, where the input is taken as the state (no step to σ = 0).
    """
    if grid not in GRIDS:
        raise ValueError(f"grid {limits.shown(grid)} is not one of {', '.join(GRIDS)}")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler {limits.shown(scheduler)} is not one of ComfyUI's: {', '.join(SCHEDULERS)}")
    ms = model_sampling(model)
    full = full_steps(steps, t0)
    if grid == "paper":
        table = ms.sigmas.to(torch.float64).cpu()
        if full > len(table):
            raise ValueError(f"grid paper: {steps} steps below t0 = {t0} need {full} levels, more than the model's "
                             f"{len(table)} training levels: use at most {int(len(table) * t0)} steps, or grid "
                             "scheduler")
        index = [min(round(k * len(table) / full), len(table) - 1) for k in range(steps, -1, -1)]
        return table[index]
    sigmas = keep_tail(comfy.samplers.calculate_sigmas(ms, scheduler, full), steps).to(torch.float64).cpu()
    if not bool(torch.isfinite(sigmas).all()):  # e.g. ComfyUI's kl_optimal divides by steps − 1
        raise ValueError(f"scheduler {scheduler}: ComfyUI's schedule of {full} steps holds non-finite levels "
                         f"({[round(v, 4) for v in sigmas.tolist()][:6]}): use more steps or another scheduler")
    return sigmas


def model_identity(model) -> dict[str, Any]:
    """What a trajectory remembers of the model that made it (checked before replay).

    The family, the prediction type and schedule (core ModelSampling* nodes build classes named
    alike for EPS and V models, so the MRO's ComfyUI classes are kept, with σ_min and σ_max, which
    a flow shift changes) and the latent channels. Not the weights: a fine-tune of the same family
    passes, as it should for LoRA-patched replays.
    """
    inner, ms = model.model, model_sampling(model)
    return {
        "model": type(inner.model_config).__name__ if getattr(inner, "model_config", None) else type(inner).__name__,
        "model_sampling": "/".join(c.__name__ for c in type(ms).__mro__ if c.__module__ == "comfy.model_sampling"),
        "sigma_range": [round(float(ms.sigma_min), 5), round(float(ms.sigma_max), 5)],
        "latent_channels": int(inner.latent_format.latent_channels),
    }


def latent_channels(model) -> int:
    return int(model.model.latent_format.latent_channels)


def check_same_encoder(**conds) -> None:
    """Prompts that meet in one model batch come from one text encoder: their embedding widths agree.

    Each value is a CONDITIONING ([[tensor, options], …]) or ComfyUI's converted form ([{"cross_attn": …}]);
    None is skipped. A mismatch would surface as a matrix-shape RuntimeError deep in the model.
    """
    widths = {name: int((c[0]["cross_attn"] if isinstance(c[0], dict) else c[0][0]).shape[-1])
              for name, c in conds.items() if c is not None}
    if len(set(widths.values())) > 1:
        said = ", ".join(f"{name} {w}" for name, w in widths.items())
        raise ValueError(f"{' and '.join(widths)} come from different text encoders (embedding widths {said}): "
                         "encode every prompt with the CLIP of this model's checkpoint")


def check_latent(model, samples: torch.Tensor, name: str = "latent") -> None:
    """A LATENT the model cannot take, or a model of a sampling type the pack does not know, is said plainly
    before any work."""
    model_path(model)
    want = latent_channels(model)
    if samples.ndim == 5:
        raise ValueError(f"{name}: a video latent (shape {tuple(samples.shape)}: batch, channels, frames, height, "
                         "width) is not supported yet: SDE Edit's nodes edit image latents [batch, channels, height, "
                         "width]. Encode single frames as images (the stage nodes and sync-SDE could take video "
                         "later; drag and DiffEdit work on 2-D points and masks)")
    if samples.ndim != 4:
        raise ValueError(f"{name}: expected an image latent [batch, channels, height, width], got shape "
                         f"{tuple(samples.shape)}")
    if samples.shape[1] != want:
        raise ValueError(f"{name} has {samples.shape[1]} channels but this model works on {want}: encode the "
                         f"image with this model's VAE")
    if not torch.isfinite(samples).all():
        raise ValueError(f"{name} contains NaN or infinite values: fix the node that made it (e.g. a multiply by "
                         "NaN, or a model or VAE that overflowed in fp16) so that every value is a finite number")


def to_model_space(model, samples: torch.Tensor) -> torch.Tensor:
    return model.model.process_latent_in(samples.to(torch.float32))


def to_latent_space(model, x: torch.Tensor) -> torch.Tensor:
    out = model.model.process_latent_out(x.to(torch.float32))
    return out.to(comfy.model_management.intermediate_device())


def mask_to_latent(mask: torch.Tensor | None, samples: torch.Tensor, name: str = "mask") -> torch.Tensor | None:
    """A ComfyUI MASK [B|1, H, W] (white = editable) resized to the latent: [B|1, 1, h, w]."""
    if mask is None:
        return None
    m = mask.reshape((-1, 1) + tuple(mask.shape[-2:])).to(torch.float32)
    b, h, w = samples.shape[0], samples.shape[-2], samples.shape[-1]
    if m.shape[0] not in (1, b):
        raise ValueError(f"{name} has a batch of {m.shape[0]} but the latent has {b}: give one mask or one per image")
    hh, ww = m.shape[-2:]
    if abs(hh * w - ww * h) > 0.05 * ww * h:
        raise ValueError(f"{name} is {ww}×{hh} px but the image's latent is {w}×{h} (another aspect ratio): give a "
                         "mask of the image's size")
    if (hh, ww) != (h, w):
        m = torch.nn.functional.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
    return m.clamp(0, 1)


def items_per_call(model_patcher, samples: torch.Tensor, rows_per_item: int, items: int, what: str) -> int:
    """How many items (recording steps, noised copies) one batched model call may hold, ≥ 1.

    All `items` where their rows fit, else the most that fit: the model's own memory estimate
    (`memory_required`, linear in rows, with the 1.5 margin ComfyUI's calc_cond_batch uses) against the
    free memory of the model's device (CUDA: free VRAM; CPU: available RAM), capped by
    SDE_EDIT_MEMORY_BUDGET_MB. An item holds `rows_per_item` rows shaped like one sample of `samples`.
    """
    per_row = float(model_patcher.model.memory_required([1, *samples.shape[1:]]))
    free = comfy.model_management.get_free_memory(model_patcher.load_device)
    budget = limits.memory_budget()
    if budget is not None:
        free = min(free, budget)
    fit = max(1, int(free // (1.5 * per_row * rows_per_item))) if per_row > 0 else items
    if fit < items:
        calls = -(-items // fit)
        logging.info("SDE Edit: %s: %d in %d calls of up to %d (about %.0f MiB a call, %.0f MiB available)",
                     what, items, calls, fit, 1.5 * per_row * rows_per_item * fit / 2**20, free / 2**20)
    return min(items, fit)


def sigma_at(model, fraction: float) -> float:
    """σ at `fraction` of the model's time range (1 = pure noise): ComfyUI's percent_to_sigma(1 − fraction).

    The convention of ComfyUI's own start/end-percent inputs; for t0 = fraction it is σ_0 of
    `level_grid` up to the scheduler's rounding, and it includes a flow model's shift.
    """
    return float(model_sampling(model).percent_to_sigma(1.0 - fraction))


def image_scale(vae=None) -> int:
    """Image pixels per latent pixel: the VAE's own factor, or 8 (SD1.x, SDXL, SD3, Flux) without one."""
    return 8 if vae is None else int(vae.spacial_compression_encode())


def latent_mask_to_image(mask: torch.Tensor, scale: int) -> torch.Tensor:
    """A latent-resolution map [B, h, w] as a MASK [B, h·scale, w·scale]: nearest, so 0/1 stays 0/1 and
    `mask_to_latent` gives back exactly the latent values (bilinear sampling at block centres)."""
    out = torch.nn.functional.interpolate(mask[:, None].to(torch.float32), scale_factor=scale, mode="nearest")
    return out[:, 0].to(comfy.model_management.intermediate_device())


def progress(model, total: int, preview: bool = True) -> Callable[[int, torch.Tensor, torch.Tensor], None]:
    """A callback(i, x, x0_hat) that moves the node's progress bar (with a live preview) and honours Cancel."""
    if preview:
        cb = latent_preview.prepare_callback(model, total)

        def update(i: int, x: torch.Tensor, x0_hat: torch.Tensor) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            cb(i, x0_hat.to(torch.float32), x.to(torch.float32), total)
    else:
        bar = comfy.utils.ProgressBar(total)

        def update(i: int, x: torch.Tensor, x0_hat: torch.Tensor) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            bar.update_absolute(i + 1, total)

    return update
