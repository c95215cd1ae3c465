"""Stage 2 of the two-stage formulation: from the (edited) x̃_t0 back down to a clean latent.

One node, three samplers (ALGORITHMS.md §3): DDIM (the ODE), DDPM (the SDE, fresh noise) and
Cycle-SDE (DDPM replaying the recorded noise). The levels come from the trajectory, so stage 2
always runs exactly the grid stage 1 went up. An optional mask keeps the non-editable area on
the trajectory at every step's output level.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..sampling import METHODS, gaussian_noise, guidance_scales, sample
from . import comfy_adapter as adapter
from .common import (
    CATEGORY,
    Trajectory_,
    cfg_inputs,
    check_trajectory,
    conditioning_inputs,
    output_latent,
    seed_input,
    start_state,
)


class Resample(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditResample",
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
                io.Combo.Input("method", options=list(METHODS), default="cycle_sde",
                               tooltip="ddim: the deterministic ODE. ddpm: the SDE with fresh seeded noise. "
                                       "cycle_sde: DDPM with the noise recorded by Cycle-SDE Record (exact "
                                       "reconstruction when nothing was edited)."),
                seed_input("the ddpm sampler's noise"),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional. White = editable; elsewhere every step is replaced by the "
                                      "trajectory's latent at that level."),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="The clean (edited) latent.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, cfg, cfg_schedule, latent, trajectory, method, seed,
                mask=None) -> io.NodeOutput:
        samples = latent["samples"]
        adapter.check_latent(model, samples)
        traj = check_trajectory(model, trajectory, samples, method)
        m = adapter.mask_to_latent(mask, samples)
        scales = guidance_scales(traj.steps, cfg, cfg_schedule)
        x = start_state(model, samples, traj)
        noise = gaussian_noise(x, adapter.seeded_generator(seed)) if method == "ddpm" else None

        def body(denoise):
            return sample(denoise, x, traj, method, scales, noise_sampler=noise, mask=m,
                          callback=adapter.progress(model, traj.steps))

        out = adapter.run_with_model(model, adapter.Guidance(positive, negative, cfg), samples, traj.sigmas, seed, body)
        return io.NodeOutput(output_latent(latent, out))
