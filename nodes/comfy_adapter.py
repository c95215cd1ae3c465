"""The one module that knows ComfyUI internals.

Everything the math in `sampling/` needs from a ComfyUI MODEL goes through here:

- the family of the model's Gaussian path, `ve` (EPS, V-prediction: x = x0 + σε) or `flow`
  (CONST: x = (1−σ)x0 + σε), read once from `model_sampling` (docs/design.md §1);
- the level grid: a full schedule of round(steps / t0) steps from ComfyUI's own scheduler
  functions, of which the last steps + 1 levels are kept (KSampler's `denoise` convention), so
  `t0` and `steps` mean the same on every family;
- latent space ↔ model space (`process_latent_in` / `process_latent_out`);
- a denoiser `denoise(x, sigma, scale) -> x̂0` with conditioning, per-sample CFG scale and model
  loading handled by ComfyUI's own guider machinery (a `CFGGuider` subclass and a `Sampler`
  subclass that hands our loop the guided model; no model internals are patched);
- several named conditionings evaluated on one x in one batch, unguided (`run_with_conds`, for
  DiffEdit's mask and sync-SDE), and a single level at a fraction of the time range (`sigma_at`);
- sync-SDE's denoiser (`SyncDenoiser`): source rows and target rows of x, each under its own
  conditioning, in one forward pass (`_rows_cond` merges the two conditionings row by row);
- progress bars with previews, Cancel, and the intermediate device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.sampler_helpers
import comfy.samplers
import comfy.sd
import comfy.utils
import latent_preview
import torch

from . import limits, model_kinds

SCALE_KEY = "sde_edit_cfg_scale"
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
    model's sampling does (model_kinds.noise_path); a ValueError naming the type for anything else."""
    return model_kinds.noise_path(model_sampling(model))


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
    full = max(steps, round(steps / t0))
    if grid == "paper":
        table = ms.sigmas.to(torch.float64).cpu()
        if full > len(table):
            raise ValueError(f"grid paper: {steps} steps below t0 = {t0} need {full} levels, more than the model's "
                             f"{len(table)} training levels: use at most {int(len(table) * t0)} steps, or grid "
                             "scheduler")
        index = [min(round(k * len(table) / full), len(table) - 1) for k in range(steps, -1, -1)]
        return table[index]
    sigmas = comfy.samplers.calculate_sigmas(ms, scheduler, full)[-(steps + 1):].to(torch.float64).cpu()
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


class _ScheduledCFGGuider(comfy.samplers.CFGGuider):
    """CFG with a per-sample scale passed in model_options (a recording batch mixes steps)."""

    def predict_noise(self, x, timestep, model_options=None, seed=None):
        model_options = model_options or {}
        scale = model_options.get(SCALE_KEY)
        positive, negative = self.conds.get("positive"), self.conds.get("negative")
        if scale is None or bool((scale == scale[0]).all()):
            s = self.cfg if scale is None else float(scale[0])
            return comfy.samplers.sampling_function(self.inner_model, x, timestep, negative, positive, s,
                                                    model_options=model_options, seed=seed)
        # Mixed scales: one batched forward pass with both branches; rows at scale 1 keep the exact
        # conditional prediction (so they match an unbatched, cond-only call).
        cond, uncond = comfy.samplers.calc_cond_batch(self.inner_model, [positive, negative], x, timestep,
                                                      model_options)
        s = scale.to(cond).view((-1,) + (1,) * (x.ndim - 1))
        guided = comfy.samplers.cfg_function(self.inner_model, cond, uncond, s, x, timestep,
                                             model_options=model_options, cond=positive, uncond=negative)
        return torch.where(s == 1, cond, guided)


class GuidedDenoiser:
    """`denoise(x, sigma, scale) -> x̂0` over a guider inside ComfyUI's sampling (the math's contract).

    Per-sample scales reach `_ScheduledCFGGuider` through model_options; a plain CFGGuider (in
    SamplerCustomAdvanced) applies its own cfg instead. x moves to the model's device and back.
    """

    def __init__(self, model_wrap, extra_args: dict, device: torch.device):
        self.model_wrap = model_wrap
        self.options = extra_args.get("model_options", {})
        self.seed = extra_args.get("seed")
        self.device = device

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()
        options = dict(self.options)
        options[SCALE_KEY] = scale.to(self.device, torch.float32)
        x0 = self.model_wrap(x.to(self.device, torch.float32), sigma.to(self.device, torch.float32),
                             model_options=options, seed=self.seed)
        return x0.to(x.device, x.dtype)

    @property
    def model_patcher(self):
        return self.model_wrap.model_patcher


class _LoopSampler(comfy.samplers.Sampler):
    """A `Sampler` whose body is our own loop: ComfyUI loads the model and prepares conds around it."""

    def __init__(self, body: Callable[[GuidedDenoiser], torch.Tensor]):
        self.body = body

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        return self.body(GuidedDenoiser(model_wrap, extra_args, noise.device)).to(noise.device)


def kdiffusion_sample(name: str, denoise: GuidedDenoiser, x: torch.Tensor, sigmas: torch.Tensor,
                      scales: torch.Tensor, callback=None) -> torch.Tensor:
    """Run one of ComfyUI's own k-diffusion samplers (e.g. `dpmpp_2m`) with our denoiser and scales.

    Step i's scale is looked up by its level (these multistep solvers evaluate on the grid only).
    """
    import comfy.k_diffusion.sampling as kds

    grid = sigmas.to(torch.float64).cpu()

    class _Model:
        inner_model = denoise.model_wrap  # k-diffusion reads inner_model.model_patcher (flow handling)

        def __call__(self, x, sigma, **kwargs):
            i = int((grid - float(sigma.reshape(-1)[0])).abs().argmin())
            return denoise(x, sigma, scales[min(i, len(scales) - 1)].reshape(1).expand(x.shape[0]))

    k_callback = None if callback is None else (lambda d: callback(d["i"], d["x"], d["denoised"]))
    fn = getattr(kds, f"sample_{name}")
    return fn(_Model(), x, sigmas.to(x), extra_args={"seed": denoise.seed}, callback=k_callback, disable=True)


@dataclass(frozen=True)
class Guidance:
    """What the model is asked: conditioning and the CFG scale the guider starts from."""

    positive: Any
    negative: Any
    cfg: float = 1.0


def run_with_model(model, guidance: Guidance, samples: torch.Tensor, sigmas: torch.Tensor, seed: int,
                   body: Callable[[GuidedDenoiser], torch.Tensor]) -> torch.Tensor:
    """Run `body(denoise) -> x (model space)` inside ComfyUI's guider; return x in LATENT space.

    The guider loads the model and prepares the conditioning for a batch shaped like `samples`;
    the body's result goes back through `process_latent_out`. The body takes its inputs in model
    space from `to_model_space` itself, so stage 1 and stage 2 see one conversion.
    """
    guider = _ScheduledCFGGuider(model)
    guider.set_conds(guidance.positive, guidance.negative if guidance.negative is not None else guidance.positive)
    guider.set_cfg(guidance.cfg)
    latent = samples.to(torch.float32)
    # The level grid reaches ComfyUI's hooks (transformer_options["sample_sigmas"]); our loop reads its own.
    out = guider.sample(torch.zeros_like(latent), latent, _LoopSampler(body), sigmas.to(torch.float32), seed=seed,
                        disable_pbar=True)
    return out.to(comfy.model_management.intermediate_device())


class CondEvaluator:
    """`evaluate(x, sigma, names) -> [x̂0 under each named conditioning]`, no guidance applied.

    All the (conditioning, x) pairs go to ComfyUI's own `calc_cond_batch`, which runs them in as few
    forward passes as memory allows (one where it fits), with the model's wrappers, hooks, areas and
    masks. For methods that need conditional predictions under several prompts at once (DiffEdit's
    mask; sync-SDE's source/target pair). Made by `run_with_conds`, valid inside its body only.
    """

    def __init__(self, guider: comfy.samplers.CFGGuider, extra_args: dict, device: torch.device):
        self.guider = guider
        self.options = extra_args.get("model_options", {})
        self.device = device

    @property
    def model_patcher(self):
        return self.guider.model_patcher

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
        comfy.model_management.throw_exception_if_processing_interrupted()
        conds = [self.guider.conds[name] for name in names]
        out = comfy.samplers.calc_cond_batch(self.guider.inner_model, conds, x.to(self.device, torch.float32),
                                             sigma.to(self.device, torch.float32), self.options)
        return [o.to(x.device, x.dtype) for o in out]


class _EvalSampler(comfy.samplers.Sampler):
    """A `Sampler` that hands `body` a CondEvaluator and keeps its result (ComfyUI gets zeros back)."""

    def __init__(self, body: Callable[[CondEvaluator], Any]):
        self.body, self.result = body, None

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        self.result = self.body(CondEvaluator(model_wrap, extra_args, noise.device))
        return torch.zeros_like(noise)


def run_with_conds(model, conds: dict[str, Any], samples: torch.Tensor, sigmas: torch.Tensor, seed: int,
                   body: Callable[[CondEvaluator], Any]) -> Any:
    """Run `body(evaluate)` with the named CONDITIONINGs prepared by ComfyUI's guider; return its result.

    The guider loads the model and prepares every conditioning for a batch shaped like `samples` (a
    larger x is fine: ComfyUI repeats a conditioning's per-image inputs to x's batch, so lay copies out
    copy-major). `sigmas` reach ComfyUI's hooks as the sampling grid. The names "positive" and
    "negative" keep their ComfyUI meaning (e.g. a ControlNet on "positive" also applies to the others).
    """
    guider = comfy.samplers.CFGGuider(model)
    guider.inner_set_conds(conds)
    sampler = _EvalSampler(body)
    latent = samples.to(torch.float32)
    guider.sample(torch.zeros_like(latent), latent, sampler, sigmas.to(torch.float32), seed=seed, disable_pbar=True)
    return sampler.result


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


# --- sync-SDE: the source rows and the target rows of a step in one forward pass ------------------

# Cond-dict keys that act on a whole cond entry, not per row: entries carrying them are not merged.
_WHOLE_ENTRY_KEYS = ("area", "mask", "strength", "timestep_start", "timestep_end", "control", "gligen", "hooks",
                     "default")


def _rows_cond(parts: list[list[dict]], rows: int) -> list[dict] | None:
    """One prepared cond list giving the k-th block of `rows` rows the model conds of parts[k], or None.

    ComfyUI repeats a cond's tensors only where their batch differs from x's, so model conds that
    already hold one row per row of x condition every row on its own prompt. The blocks are joined by
    each cond's own `concat`, as ComfyUI joins a positive and a negative into one batch (a cross-
    attention context of another length is repeated to a common one, as there; Flux's guidance is a
    per-row value and merges). None where that is not possible: other numbers of entries, an area,
    mask, strength, timestep range, ControlNet, GLIGEN or hook on an entry, or model conds ComfyUI
    itself would not batch together.
    """
    if len({len(p) for p in parts}) != 1:
        return None
    merged = []
    for entries in zip(*parts, strict=True):
        if any(key in e for e in entries for key in _WHOLE_ENTRY_KEYS):
            return None
        keys = entries[0]["model_conds"].keys()
        if any(e["model_conds"].keys() != keys for e in entries):
            return None
        model_conds = {}
        for key in keys:
            blocks = [e["model_conds"][key].process_cond(batch_size=rows, area=None) for e in entries]
            first = blocks[0]
            if not all(type(c) is type(first) and first.can_concat(c) for c in blocks[1:]):
                return None
            model_conds[key] = first._copy_with(first.concat(blocks[1:]))
        merged.append({"model_conds": model_conds, "uuid": entries[0]["uuid"]})
    return merged


def _check_plain_guider(guider) -> None:
    if (type(guider).predict_noise is not comfy.samplers.CFGGuider.predict_noise
            or set(guider.conds) - {"positive", "negative"}):
        raise ValueError(f"guider: sync-SDE takes the target prompt and cfg from a CFGGuider or BasicGuider, not a "
                         f"{type(guider).__name__}: connect one of those")


class SyncDenoiser:
    """`denoise(x [2B], sigma [2B], scale [2B]) -> x̂0 [2B]` for sync-SDE (sampling/sync.py's contract).

    Rows [:B] are evaluated under `source`, rows [B:] under the guider's positive (the target), each
    at its row's CFG scale against the guider's negative (shared by both). Made inside a sampler's
    `sample` from the guider ComfyUI hands it (a CFGGuider or BasicGuider); the source CONDITIONING
    is prepared by ComfyUI's own `process_conds`, as the guider prepared its own.

    One forward pass per call: the source and target conds are merged row by row (`_rows_cond`) and
    evaluated on [x; y] with the negative in the same batch by ComfyUI's `calc_cond_batch`: 2B rows,
    or 4B where any row's scale is not 1 (the negative then runs on all 2B rows). Where the two
    conditionings cannot be merged (see `_rows_cond`: e.g. a conditioning with an area, a mask, a
    timestep range or a ControlNet, or combined from a different number of entries) it falls back to
    two passes, one per prompt. The model's wrappers, patches and `sampler_cfg_function` /
    post-CFG functions apply; `sampler_pre_cfg_function` and `sampler_calc_cond_batch_function` are
    not called.
    """

    def __init__(self, guider, source, extra_args: dict, noise: torch.Tensor, latent_image: torch.Tensor | None,
                 denoise_mask: torch.Tensor | None = None):
        _check_plain_guider(guider)
        self.guider = guider
        self.options = extra_args.get("model_options", {})
        self.device = noise.device
        self.target_cfg = float(guider.cfg)
        conds = comfy.sampler_helpers.convert_cond(source)
        check_same_encoder(source=conds, positive=guider.original_conds.get("positive"))
        if any(key in c for c in conds for key in ("control", "gligen", "hooks")):
            raise ValueError("source: a ControlNet, GLIGEN or hooks on the source conditioning is not supported by "
                             "sync-SDE: connect the plain text conditioning")
        self.source = comfy.samplers.process_conds(guider.inner_model, noise, {"source": conds}, noise.device,
                                                   latent_image, denoise_mask, extra_args.get("seed"))["source"]
        self.target, self.negative = guider.conds.get("positive"), guider.conds.get("negative")
        self.merged = _rows_cond([self.source, self.target], noise.shape[0])

    def check_scales(self, source_cfg: float) -> None:
        """A scale other than 1 needs the guider's negative prompt."""
        if self.negative is None and (source_cfg != 1 or self.target_cfg != 1):
            raise ValueError("negative: source_cfg or the guider's cfg is not 1 but there is no negative prompt: "
                             "connect one (an empty prompt is the usual choice), or set both scales to 1")

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()
        model, b = self.guider.inner_model, x.shape[0] // 2
        x_in, t = x.to(self.device, torch.float32), sigma.to(self.device, torch.float32)
        w = scale.to(self.device, torch.float32).view((-1,) + (1,) * (x.ndim - 1))
        negative = None if bool((w == 1).all()) else self.negative
        if self.merged is not None:
            cond, uncond = comfy.samplers.calc_cond_batch(model, [self.merged, negative], x_in, t, self.options)
        else:
            halves = [comfy.samplers.calc_cond_batch(model, [c, negative], x_in[rows], t[rows], self.options)
                      for c, rows in ((self.source, slice(None, b)), (self.target, slice(b, None)))]
            cond, uncond = (torch.cat(h) for h in zip(*halves, strict=True))
        if negative is not None:
            guided = comfy.samplers.cfg_function(model, cond, uncond, w, x_in, t, model_options=self.options,
                                                 cond=self.target, uncond=negative)
            cond = torch.where(w == 1, cond, guided)
        return cond.to(x.device, x.dtype)


def run_sampler(model, guidance: Guidance, samples: torch.Tensor, sigmas: torch.Tensor, seed: int,
                sampler: comfy.samplers.Sampler) -> torch.Tensor:
    """`sampler` inside ComfyUI's plain CFGGuider (no negative: a BasicGuider's conds), from `samples` with no
    noise added; the result in LATENT space on the intermediate device (as SamplerCustomAdvanced does)."""
    guider = comfy.samplers.CFGGuider(model)
    conds = {"positive": guidance.positive}
    if guidance.negative is not None:
        conds["negative"] = guidance.negative
    guider.inner_set_conds(conds)
    guider.set_cfg(guidance.cfg)
    latent = samples.to(torch.float32)
    out = guider.sample(torch.zeros_like(latent), latent, sampler, sigmas.to(torch.float32), seed=seed,
                        disable_pbar=True)
    return out.to(comfy.model_management.intermediate_device())
