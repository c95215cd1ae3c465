"""Stage 2 of the two-stage formulation: from the (edited) x̃_t0 back down to a clean latent.

Three samplers of the paper (docs/design.md §3): DDIM (the ODE), DDPM (the SDE, fresh noise) and
Cycle-SDE (DDPM replaying the recorded noise); and the paper's second-order pair (its Table 5),
ComfyUI's own DPM-Solver++(2M) and SDE-DPM-Solver++(2M). The levels come from the trajectory, so
stage 2 runs exactly the grid stage 1 went up. An optional mask keeps the non-editable area on
the trajectory at every step's output level.

Two forms, one body (`Stage2`): the Resample node, and a SAMPLER for ComfyUI's
SamplerCustomAdvanced (with Disable Noise and the trajectory's sigmas).
"""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..sampling import METHODS, Trajectory, gaussian_noise, guidance_scales, sample, streams
from ..sampling.guidance import SCHEDULES
from .comfy import guider
from .comfy import model as cm
from .common import (
    CATEGORY,
    Trajectory_,
    cfg_inputs,
    check_choice,
    check_links,
    check_trajectory,
    conditioning_inputs,
    lora_inputs,
    newer_schema_fields,
    require_trajectory,
    run_body,
    seed_input,
    start_state,
    with_lora,
)

SECOND_ORDER = {"dpmpp_2m": "ODE (DPM-Solver++(2M))", "dpmpp_2m_sde": "SDE (SDE-DPM-Solver++(2M))"}
ALL_METHODS = (*METHODS, *SECOND_ORDER)


class Stage2:
    """The stage-2 body of both forms, for `guider.LoopSampler`: x̃_t0 (the sampler's latent, in model space)
    → the clean latent (model space), by `method` over the trajectory's levels.

    The Resample node gives it its own CFG schedule (`scales`), a mask and its progress bar; the SAMPLER form
    gives none of them: the guider applies its own cfg, and ComfyUI's preview callback shows the steps.
    """

    def __init__(self, trajectory: Trajectory, method: str, seed: int, scales: torch.Tensor | None = None,
                 mask: torch.Tensor | None = None, progress=None):
        self.trajectory, self.method, self.seed = trajectory, method, seed
        self.scales, self.mask, self.progress = scales, mask, progress

    def __call__(self, ctx: guider.Context) -> torch.Tensor:
        if torch.count_nonzero(ctx.noise) > 0:
            raise ValueError("noise: the SDE Edit sampler starts from the given x_t0; connect a Disable Noise node")
        model, method = ctx.model_patcher, self.method
        traj = check_trajectory(model, self.trajectory, ctx.latent_image, method if method in METHODS else None)
        traj.check(sigmas=ctx.sigmas)
        n = traj.steps
        scales = torch.ones(n, dtype=torch.float64) if self.scales is None else self.scales
        callback = ctx.progress(self.progress, n)
        x = start_state(model, ctx.latent_image, traj)
        if method in SECOND_ORDER:
            if self.mask is not None:
                raise ValueError(f"mask: {method} runs ComfyUI's own solver, which cannot follow a trajectory step "
                                 "by step; use ddim (ODE) or ddpm / cycle_sde (SDE) with a mask")
            return guider.kdiffusion_sample(method, ctx, x, traj.sigmas, scales, callback).to(torch.float32)
        noise = gaussian_noise(x, streams.generator(self.seed, "ddpm")) if method == "ddpm" else None
        return sample(ctx.denoise, x, traj, method, scales, noise_sampler=noise, mask=self.mask, callback=callback,
                      dtype=traj.x0.dtype).to(torch.float32)


def method_input() -> io.Combo.Input:
    return io.Combo.Input(
        "method", options=list(ALL_METHODS), default="cycle_sde",
        tooltip="ddim: the deterministic ODE. ddpm: the SDE with fresh seeded noise. cycle_sde: DDPM with the noise "
                "recorded by Cycle-SDE Record (exact reconstruction when nothing was edited). dpmpp_2m / "
                "dpmpp_2m_sde: ComfyUI's second-order ODE / SDE solvers (the paper's Table 5; no mask).")


class Resample(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditResample",
            **newer_schema_fields(search_aliases=["inpaint", "ddpm", "ddim", "cycle sde"]),
            display_name="SDE Edit: Resample",
            category=f"{CATEGORY}/stage 2",
            description="Stage 2: sample from the (edited) x_t0 back to a clean latent over the trajectory's "
                        "levels, by DDIM (ODE), DDPM (SDE) or Cycle-SDE (replaying the recorded noise). With a "
                        "mask, the area outside it follows the trajectory (inpainting, DiffEdit).",
            inputs=[
                io.Model.Input("model", tooltip="The model (the one stage 1 used)."),
                *conditioning_inputs(),
                *cfg_inputs(default=1.0),
                io.Latent.Input("latent", tooltip="x̃_t0: stage 1's x_t0 output, edited or not."),
                Trajectory_.Input("trajectory", tooltip="Stage 1's trajectory: the levels to run, the latents a "
                                                        "mask keeps, and (Cycle-SDE) the recorded noise."),
                method_input(),
                seed_input("the ddpm sampler's noise"),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional. White = editable; elsewhere every step is replaced by the "
                                      "trajectory's latent at that level."),
                *lora_inputs(),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="The clean (edited) latent.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, cfg, cfg_schedule, latent, trajectory, method, seed,
                mask=None, lora=None, lora_min=0.5, lora_strength=1.0) -> io.NodeOutput:
        check_links(model=model, positive=positive, negative=negative, latent=latent, mask=mask, lora=lora)
        check_choice("cfg_schedule", cfg_schedule, SCHEDULES)
        check_choice("method", method, ALL_METHODS)
        samples = latent["samples"]
        cm.check_latent(model, samples)
        traj = check_trajectory(model, trajectory, samples, method if method in METHODS else None)
        body = Stage2(traj, method, seed, scales=guidance_scales(traj.steps, cfg, cfg_schedule),
                      mask=cm.mask_to_latent(mask, samples), progress=cm.progress(model, traj.steps))
        run_model = with_lora(model, lora, lora_min, lora_strength, traj.sigmas[0])
        return io.NodeOutput(run_body(run_model, {"positive": positive, "negative": negative}, cfg, latent,
                                      traj.sigmas, seed, body))


class Sampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditSampler",
            display_name="SDE Edit: Sampler",
            category=f"{CATEGORY}/stage 2",
            description="Stage 2 as a SAMPLER for SamplerCustomAdvanced: connect Disable Noise, any guider (its cfg "
                        "applies), SDE Edit Trajectory Sigmas, and stage 1's x_t0 as the latent.",
            inputs=[
                Trajectory_.Input("trajectory", tooltip="Stage 1's trajectory."),
                method_input(),
                seed_input("the ddpm sampler's noise"),
            ],
            outputs=[io.Sampler.Output()],
        )

    @classmethod
    def execute(cls, trajectory, method, seed) -> io.NodeOutput:
        require_trajectory(trajectory)
        check_choice("method", method, ALL_METHODS)
        trajectory.check(method=method if method in METHODS else None)  # e.g. cycle_sde without residuals
        return io.NodeOutput(guider.LoopSampler(Stage2(trajectory, method, seed)))


class TrajectorySigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditTrajectorySigmas",
            display_name="SDE Edit: Trajectory Sigmas",
            category=f"{CATEGORY}/stage 2",
            description="The noise levels of a trajectory (σ(t0) down to 0), as SIGMAS for ComfyUI's custom samplers.",
            inputs=[Trajectory_.Input("trajectory", tooltip="Stage 1's trajectory.")],
            outputs=[io.Sigmas.Output()],
        )

    @classmethod
    def execute(cls, trajectory) -> io.NodeOutput:
        require_trajectory(trajectory)
        return io.NodeOutput(trajectory.sigmas.to(torch.float32))
