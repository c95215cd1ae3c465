"""sync-SDE (docs/design.md §6; Zhang & Scott 2025): prompt-driven editing with two coupled SDEs.

The source path noises the input along one Brownian path (no model calls); the target path starts
at the same point and steps down under the target prompt, driven by the noise the source path
implies under the source prompt. Only the difference of the two drifts moves the image: no
inversion, no training, and with identical prompts the output is the input.

Two forms, one body (`SyncBody`): the SDE Edit Sync-SDE node, and a SAMPLER for ComfyUI's
SamplerCustomAdvanced (target prompt and cfg from the guider, the levels from any SIGMAS, e.g.
BasicScheduler → SplitSigmas for the authors' "28 steps, starting at step 4").
"""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..sampling import DISCRETIZATIONS, check_steps, check_t0, streams, sync_sde
from ..sampling.sync import check_start
from .comfy import guider, rows
from .comfy import model as cm
from .common import (
    CATEGORY,
    PRECISIONS,
    check_choice,
    check_links,
    newer_schema_fields,
    precision_input,
    run_body,
    scheduler_input,
    seed_input,
    steps_input,
    t0_input,
)


class SyncBody:
    """sync-SDE as a body for `guider.LoopSampler` (both forms): the guider's positive and cfg are the target,
    `source` the source prompt, the sampler's latent the input image."""

    def __init__(self, source, source_cfg: float, discretization: str, seed: int, precision: str, progress=None,
                 resample: bool = False, mask: torch.Tensor | None = None):
        check_choice("discretization", discretization, DISCRETIZATIONS)
        self.source, self.source_cfg, self.discretization = source, source_cfg, discretization
        self.seed, self.dtype, self.progress = seed, PRECISIONS[precision], progress  # unknown names: ValueErrors
        self.resample, self.mask = bool(resample), mask

    def __call__(self, ctx: guider.Context) -> torch.Tensor:
        if torch.count_nonzero(ctx.noise) > 0:
            raise ValueError("noise: sync-SDE starts from the input latent and adds its own seeded noise; connect a "
                             "Disable Noise node")
        path = cm.model_path(ctx.model_patcher)
        check_start(ctx.sigmas, path, self.discretization)
        denoise = rows.SyncDenoiser(ctx, self.source)
        denoise.check_scales(self.source_cfg)
        # The node's mask, or in SamplerCustomAdvanced the latent's noise mask (Set Latent Noise Mask): white = edit.
        mask = self.mask if self.mask is not None else ctx.denoise_mask
        return sync_sde(denoise, ctx.latent_image, ctx.sigmas, path, streams.generator(self.seed, "sync"),
                        discretization=self.discretization, source_scales=self.source_cfg,
                        target_scales=denoise.target_cfg, resample=self.resample, mask=mask,
                        callback=ctx.progress(self.progress, ctx.sigmas.numel() - 1), dtype=self.dtype)


def _discretization_input() -> io.Combo.Input:
    return io.Combo.Input(
        "discretization", options=list(DISCRETIZATIONS), default="euler_maruyama",
        tooltip="euler_maruyama: the authors' scheme (Euler-Maruyama on the reverse SDE; cannot start at pure noise "
                "on flow models). ddpm: the DDPM step, i.e. Cycle-SDE recorded with the source prompt and "
                "replayed with the target, in one pass.")


def _source_inputs() -> list[io.Input]:
    return [
        io.Conditioning.Input("source", tooltip="The prompt that describes the INPUT image. For Flux, set its "
                                                "guidance with FluxGuidance (the authors use 1.0)."),
        io.Float.Input("source_cfg", default=1.0, min=0.0, max=100.0, step=0.1, round=0.01,
                       tooltip="CFG scale of the source prompt (1 = no negative pass). With the target's scale and "
                               "prompt equal to these, the output is the input."),
    ]


def _resample_input() -> io.Boolean.Input:
    return io.Boolean.Input(
        "resample", default=False, optional=True,
        tooltip="Off: one Brownian path for the source (sync-SDE). On: the authors' 'resample' option: the source "
                "point is drawn afresh every step and the target carries only its difference from it (decoupled "
                "steps, as FlowEdit).")


def _seed() -> io.Int.Input:
    return seed_input("the source path's Brownian noise (the one noise both paths share)")


class SyncSDE(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditSyncSDE",
            **newer_schema_fields(search_aliases=["prompt edit", "flowedit", "sync sde"]),
            display_name="SDE Edit: Sync-SDE",
            category=f"{CATEGORY}/sync",
            description="Edit an image by changing its prompt with two coupled SDEs (sync-SDE, Zhang & Scott "
                        "2025): the target reverse SDE shares the Brownian noise of the source path, so only the "
                        "difference of the two prompts' drifts moves the image. No inversion, no training; the "
                        "same prompt twice returns the input. One batched model call per step (two under CFG "
                        "are one batch too). Works on flow models (SD3, Flux) and EPS / V models (SD1.5, SDXL).",
            inputs=[
                io.Model.Input("model", tooltip="The model to edit with."),
                *_source_inputs(),
                io.Conditioning.Input("target", tooltip="The prompt the edit should follow (for Flux, with its own "
                                                        "FluxGuidance)."),
                io.Float.Input("target_cfg", default=1.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="CFG scale of the target prompt (1 = no negative pass; guidance-distilled "
                                       "models such as Flux use 1 and the guidance on the conditioning)."),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode)."),
                steps_input(default=24),
                t0_input(0.86, "Where both paths start: a fraction of the model's time range (1 = pure noise), as "
                               "on the stage nodes. The levels are the last `steps` of a round(steps / t0)-step "
                               "schedule, so the authors' '28 steps, starting at step 4' is steps 24, t0 0.86. "
                               "Higher edits more and keeps less."),
                scheduler_input(),
                _seed(),
                _discretization_input(),
                precision_input(),
                io.Conditioning.Input("negative", optional=True,
                                      tooltip="Optional negative prompt, shared by both paths; needed only where a "
                                              "cfg is not 1 (on a model without a guidance input, e.g. SD3, this is "
                                              "the authors' true_cfg_scale: target_cfg with a negative)."),
                _resample_input(),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional. White = may change; elsewhere every step follows the source path, so "
                                      "the output there is the input."),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="The edited latent.")],
        )

    @classmethod
    def execute(cls, model, source, source_cfg, target, target_cfg, latent, steps, t0, scheduler, seed,
                discretization, precision, negative=None, resample=False, mask=None) -> io.NodeOutput:
        check_links(model=model, source=source, target=target, latent=latent, mask=mask)
        if negative is not None:
            check_links(negative=negative)
        check_t0(t0)
        check_steps(steps)
        cm.check_same_encoder(source=source, target=target, negative=negative)
        samples = latent["samples"]
        cm.check_latent(model, samples)
        rows.check_negative(negative is not None, source_cfg, target_cfg)
        sigmas = cm.level_grid(model, steps, t0, scheduler)
        try:
            check_start(sigmas, cm.model_path(model), discretization)
        except ValueError:
            raise ValueError(f"t0: with steps {steps} and t0 {t0} the first level is pure noise (σ = 1), where "
                             f"euler_maruyama is undefined on a flow model: lower t0 below {steps / (steps + 0.5):.3f} "
                             "(round(steps / t0) must exceed steps), or use the ddpm discretization") from None
        body = SyncBody(source, source_cfg, discretization, seed, precision, cm.progress(model, steps), resample,
                        cm.mask_to_latent(mask, samples))
        return io.NodeOutput(run_body(model, {"positive": target, "negative": negative}, target_cfg, latent, sigmas,
                                      seed, body))


class SyncSDESampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditSyncSDESampler",
            display_name="SDE Edit: Sync-SDE Sampler",
            category=f"{CATEGORY}/sync",
            description="sync-SDE as a SAMPLER for SamplerCustomAdvanced: connect Disable Noise, a CFGGuider or "
                        "BasicGuider with the TARGET prompt (its cfg is the target's), any SIGMAS (e.g. "
                        "BasicScheduler 28 steps → SplitSigmas at 4, the authors' default) and the input image's "
                        "latent. The same edit as the SDE Edit: Sync-SDE node.",
            inputs=[*_source_inputs(), _seed(), _discretization_input(), precision_input(), _resample_input()],
            outputs=[io.Sampler.Output()],
        )

    @classmethod
    def execute(cls, source, source_cfg, seed, discretization, precision, resample=False) -> io.NodeOutput:
        check_links(source=source)
        return io.NodeOutput(guider.LoopSampler(SyncBody(source, source_cfg, discretization, seed, precision,
                                                         resample=resample)))
