"""Running the model inside ComfyUI's guider: the one mechanism every node uses.

A node's work is a *body* `body(ctx)`: our own loop (sampling/), given a `Context` that evaluates the
model. `LoopSampler(body)` is a ComfyUI `Sampler`, so the same body runs two ways:

- as a SAMPLER in core SamplerCustomAdvanced (any guider, any SIGMAS; the guider applies its cfg), and
- from a node, through `run`: the node's own conditioning in `ScheduledCFGGuider`, which also takes a
  CFG scale per row (a recording batch mixes steps; SDE-Drag's schedule falls from 3 to 1).

Either way ComfyUI loads the model, prepares the conditioning (areas, masks, ControlNets, hooks) and
calls the body with the guider; no model internals are patched. What the body returns is kept as
`sampler.value` (`run_for_value` returns it); ComfyUI is handed it where it is a latent (model space), zeros
otherwise.

The Context evaluates the model three ways, each a thin call into ComfyUI's own functions:
`denoise(x, σ, scale)` (the guided x̂0: the math's denoiser contract), `evaluate(x, σ, names)` (x̂0 under
each named conditioning, unguided, in one batch: DiffEdit's pair) and, for sync-SDE, `rows.SyncDenoiser`.
Per-row CFG is one function, `cfg_rows`, used by the guider and by sync-SDE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import comfy.model_management
import comfy.samplers
import torch

SCALE_KEY = "sde_edit_cfg_scale"


def cfg_rows(model, cond_out: torch.Tensor, uncond_out: torch.Tensor | None, w: torch.Tensor, x: torch.Tensor,
             t: torch.Tensor, options: dict, cond, uncond) -> torch.Tensor:
    """CFG with a scale per row: ComfyUI's `cfg_function` on every row, where rows at scale 1 keep the exact
    conditional prediction (so they match an unbatched, cond-only call). `cond_out` alone where there is no
    negative (every scale is 1). `cond` / `uncond` are the conditionings, for the model's cfg hooks."""
    if uncond is None:
        return cond_out
    guided = comfy.samplers.cfg_function(model, cond_out, uncond_out, w, x, t, model_options=options, cond=cond,
                                         uncond=uncond)
    return torch.where(w == 1, cond_out, guided)


class ScheduledCFGGuider(comfy.samplers.CFGGuider):
    """ComfyUI's CFGGuider, plus a per-row scale passed in model_options[SCALE_KEY] (`Context.denoise`)."""

    def predict_noise(self, x, timestep, model_options=None, seed=None):
        model_options = model_options or {}
        scale = model_options.get(SCALE_KEY)
        positive, negative = self.conds.get("positive"), self.conds.get("negative")
        if scale is None or bool((scale == scale[0]).all()):
            s = self.cfg if scale is None else float(scale[0])
            return comfy.samplers.sampling_function(self.inner_model, x, timestep, negative, positive, s,
                                                    model_options=model_options, seed=seed)
        # Mixed scales: one batched forward pass with both branches.
        cond, uncond = comfy.samplers.calc_cond_batch(self.inner_model, [positive, negative], x, timestep,
                                                      model_options)
        w = scale.to(cond).view((-1,) + (1,) * (x.ndim - 1))
        return cfg_rows(self.inner_model, cond, uncond, w, x, timestep, model_options, positive, negative)


def is_plain(guider) -> bool:
    """A guider whose prediction is plain CFG over "positive" and "negative" (CFGGuider, BasicGuider, ours)."""
    return (type(guider).predict_noise in (comfy.samplers.CFGGuider.predict_noise, ScheduledCFGGuider.predict_noise)
            and not set(guider.conds) - {"positive", "negative"})


class Context:
    """What a body gets: the guider ComfyUI hands a Sampler, and the rest of that sampling call.

    `latent_image` is the input in model space (ComfyUI applied `process_latent_in`), `sigmas` the grid,
    `callback` ComfyUI's preview callback (None when a node runs the body: it passes its own progress).
    """

    def __init__(self, guider, sigmas, extra_args: dict, callback, noise: torch.Tensor, latent_image, denoise_mask):
        self.guider, self.sigmas, self.extra_args, self.callback = guider, sigmas, extra_args, callback
        if latent_image is not None and torch.count_nonzero(latent_image) == 0:
            latent_image = guider.inner_model.process_latent_in(latent_image)  # ComfyUI skips an all-zero latent
        self.noise, self.latent_image, self.denoise_mask = noise, latent_image, denoise_mask
        self.options = extra_args.get("model_options", {})
        self.seed = extra_args.get("seed")
        self.device = noise.device

    @property
    def model_patcher(self):
        return self.guider.model_patcher

    def progress(self, own: Callable | None, steps: int) -> Callable | None:
        """A step callback(i, x, x̂0): the node's own progress where given, else ComfyUI's preview callback."""
        if own is not None or self.callback is None:
            return own
        return lambda i, x, x0: self.callback(i, x0.to(torch.float32), x, steps)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """x̂0 guided by the guider's conditioning, at a CFG scale per row (a plain guider applies its own cfg)."""
        comfy.model_management.throw_exception_if_processing_interrupted()
        options = dict(self.options)
        options[SCALE_KEY] = scale.to(self.device, torch.float32)
        x0 = self.guider(x.to(self.device, torch.float32), sigma.to(self.device, torch.float32),
                         model_options=options, seed=self.seed)
        return x0.to(x.device, x.dtype)

    def evaluate(self, x: torch.Tensor, sigma: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
        """[x̂0 under each named conditioning], unguided: ComfyUI's `calc_cond_batch`, in as few forward passes
        as memory allows (one where it fits), with the model's wrappers, hooks, areas and masks."""
        comfy.model_management.throw_exception_if_processing_interrupted()
        conds = [self.guider.conds[name] for name in names]
        out = comfy.samplers.calc_cond_batch(self.guider.inner_model, conds, x.to(self.device, torch.float32),
                                             sigma.to(self.device, torch.float32), self.options)
        return [o.to(x.device, x.dtype) for o in out]


class LoopSampler(comfy.samplers.Sampler):
    """A ComfyUI `Sampler` whose work is `body(ctx)`: the one adapter between ComfyUI's sampling and ours."""

    def __init__(self, body: Callable[[Context], Any]):
        self.body, self.value = body, None

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        self.value = self.body(Context(model_wrap, sigmas, extra_args, callback, noise, latent_image, denoise_mask))
        if isinstance(self.value, torch.Tensor):
            return self.value.to(noise.device, torch.float32)
        return torch.zeros_like(noise)


def run(model, conds: dict[str, Any], cfg: float, samples: torch.Tensor, sigmas: torch.Tensor, seed: int,
        sampler: LoopSampler) -> torch.Tensor:
    """Run `sampler` from `samples` (no noise added) inside a ScheduledCFGGuider holding the named CONDITIONINGs
    (None values left out) at `cfg`; return ComfyUI's output in LATENT space on the intermediate device.

    "positive" and "negative" keep their ComfyUI meaning (CFG; a ControlNet on "positive" also applies to
    the others); other names are for `Context.evaluate`. A conditioning's per-image inputs are repeated
    to x's batch, so a body may evaluate a larger x laid out copy-major. `sigmas` reach ComfyUI's hooks
    as the sampling grid (transformer_options["sample_sigmas"]).
    """
    guider = ScheduledCFGGuider(model)
    guider.inner_set_conds({name: c for name, c in conds.items() if c is not None})
    guider.set_cfg(cfg)
    latent = samples.to(torch.float32)
    out = guider.sample(torch.zeros_like(latent), latent, sampler, sigmas.to(torch.float32), seed=seed,
                        disable_pbar=True)
    return out.to(comfy.model_management.intermediate_device())


def run_for_value(model, conds: dict[str, Any], cfg: float, samples: torch.Tensor, sigmas: torch.Tensor, seed: int,
                  body: Callable[[Context], Any]) -> Any:
    """`run` a body that makes something other than the output latent (a trajectory, a mask); return that."""
    sampler = LoopSampler(body)
    run(model, conds, cfg, samples, sigmas, seed, sampler)
    return sampler.value


def kdiffusion_sample(name: str, ctx: Context, x: torch.Tensor, sigmas: torch.Tensor, scales: torch.Tensor,
                      callback=None) -> torch.Tensor:
    """Run one of ComfyUI's own k-diffusion samplers (e.g. `dpmpp_2m`) with `ctx.denoise` and our scales.

    Step i's scale is looked up by its level (these multistep solvers evaluate on the grid only).
    """
    import comfy.k_diffusion.sampling as kds

    grid = sigmas.to(torch.float64).cpu()

    class _Model:
        inner_model = ctx.guider  # k-diffusion reads inner_model.model_patcher (flow handling)

        def __call__(self, x, sigma, **kwargs):
            i = int((grid - float(sigma.reshape(-1)[0])).abs().argmin())
            return ctx.denoise(x, sigma, scales[min(i, len(scales) - 1)].reshape(1).expand(x.shape[0]))

    k_callback = None if callback is None else (lambda d: callback(d["i"], d["x"], d["denoised"]))
    fn = getattr(kds, f"sample_{name}")
    return fn(_Model(), x, sigmas.to(x), extra_args={"seed": ctx.seed}, callback=k_callback, disable=True)
