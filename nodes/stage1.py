"""Stage 1 of the two-stage formulation: from the input latent x0 up to x_t0, with a trajectory.

Three ways up (docs/design.md §2): noise-adding (Eq. 7, no model calls), DDIM inversion (Alg. 4),
and Cycle-SDE recording (a noise-adding trajectory plus the residual of each step, Alg. 5).
Each outputs the LATENT x_t0 (edit it, then give it to SDE Edit Resample) and the trajectory.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..sampling import ddim_invert, forward_trajectory, guidance_scales, record_cycle_sde, streams
from ..sampling.guidance import SCHEDULES
from .comfy import guider
from .comfy import model as cm
from .common import (
    CATEGORY,
    PRECISIONS,
    Trajectory_,
    cfg_inputs,
    check_choice,
    check_links,
    conditioning_inputs,
    lora_inputs,
    newer_schema_fields,
    output_latent,
    precision_input,
    scheduler_input,
    seed_input,
    steps_input,
    t0_input,
    with_lora,
)

OUTPUTS = [
    io.Latent.Output(display_name="x_t0", tooltip="The noisy latent at t0: edit it, then resample it."),
    Trajectory_.Output(display_name="trajectory", tooltip="The record stage 2 replays (levels, latents, noise)."),
]


def _setup(model, latent: dict, t0: float, steps: int, scheduler: str):
    """The checked input latent, its level grid and the model's path; ValueErrors say what to fix."""
    from ..sampling import check_steps, check_t0

    check_t0(t0)
    check_steps(steps)
    samples = latent["samples"]
    cm.check_latent(model, samples)
    sigmas = cm.level_grid(model, steps, t0, scheduler)
    meta = {"model": cm.model_identity(model), "t0": t0, "scheduler": scheduler}
    return samples, sigmas, cm.model_path(model), meta


def _forward(model, samples, sigmas, path, seed: int, independent: bool, precision: str, meta: dict):
    x0 = cm.to_model_space(model, samples)
    return forward_trajectory(x0, sigmas, path, streams.generator(seed, "forward"), markov=not independent,
                              dtype=PRECISIONS[precision], meta=meta)


def _outputs(model, latent: dict, positive, negative, cfg: float, sigmas, seed: int, body) -> io.NodeOutput:
    """Run a model-calling stage 1 inside the guider; its body returns the trajectory, whose x_t0 is the LATENT."""
    traj = guider.run_for_value(model, {"positive": positive, "negative": negative}, cfg, latent["samples"], sigmas,
                                seed, body)
    return io.NodeOutput(output_latent(latent, cm.to_latent_space(model, traj.latents[0])), traj)


def _independent_input() -> io.Boolean.Input:
    return io.Boolean.Input(
        "independent_noise", default=False,
        tooltip="Off: a Markov chain of noise-adding steps, as in the paper. On: each level drawn independently "
                "from x0 (edit-friendly DDPM inversion).")


class NoiseAddingInversion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditNoiseAddingInversion",
            display_name="SDE Edit: Noise-Adding Inversion",
            category=f"{CATEGORY}/stage 1",
            description="Stage 1 without a model call: add noise to the latent up to t0 (the paper's Eq. 7). "
                        "Resample with ddpm for SDEdit / Inpaint-SDE, or with a mask.",
            inputs=[
                io.Model.Input("model", tooltip="The model whose noise schedule and latent space to use."),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode)."),
                t0_input(), steps_input(), seed_input("the added noise"), scheduler_input(),
                _independent_input(), precision_input(),
            ],
            outputs=OUTPUTS,
        )

    @classmethod
    def execute(cls, model, latent, t0, steps, seed, scheduler, independent_noise, precision) -> io.NodeOutput:
        check_links(model=model, latent=latent)
        samples, sigmas, path, meta = _setup(model, latent, t0, steps, scheduler)
        traj = _forward(model, samples, sigmas, path, seed, independent_noise, precision, meta)
        return io.NodeOutput(output_latent(latent, cm.to_latent_space(model, traj.latents[0])), traj)


class DDIMInversion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditDDIMInversion",
            display_name="SDE Edit: DDIM Inversion",
            category=f"{CATEGORY}/stage 1",
            description="Stage 1 by the deterministic ODE (DDIM run upward, the paper's Alg. 4): the baseline of "
                        "ODE-Drag, DiffEdit-ODE and DDIM-inversion editing. One model call per step.",
            inputs=[
                io.Model.Input("model", tooltip="The model to invert with."),
                *conditioning_inputs(),
                *cfg_inputs(default=1.0),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode)."),
                t0_input(), steps_input(), scheduler_input(), precision_input(),
                *lora_inputs(),
            ],
            outputs=OUTPUTS,
        )

    @classmethod
    def execute(cls, model, positive, negative, cfg, cfg_schedule, latent, t0, steps, scheduler,
                precision, lora=None, lora_min=0.5, lora_strength=1.0) -> io.NodeOutput:
        check_links(model=model, positive=positive, negative=negative, latent=latent, lora=lora)
        check_choice("cfg_schedule", cfg_schedule, SCHEDULES)
        samples, sigmas, path, meta = _setup(model, latent, t0, steps, scheduler)
        scales = guidance_scales(steps, cfg, cfg_schedule)
        meta |= {"cfg": cfg, "cfg_schedule": cfg_schedule}
        x0 = cm.to_model_space(model, samples)
        def body(ctx: guider.Context):
            return ddim_invert(ctx.denoise, x0, sigmas, path, scales, callback=cm.progress(model, steps),
                               dtype=PRECISIONS[precision], meta=meta)

        run_model = with_lora(model, lora, lora_min, lora_strength, sigmas[0])
        return _outputs(run_model, latent, positive, negative, cfg, sigmas, 0, body)


class CycleSDERecord(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditCycleSDERecord",
            **newer_schema_fields(search_aliases=["inversion", "noise recording", "cycle sde"]),
            display_name="SDE Edit: Cycle-SDE Record",
            category=f"{CATEGORY}/stage 1",
            description="Stage 1 of Cycle-SDE: noise the latent up to t0 and record, for every step, the noise "
                        "that makes the DDPM sampler retrace it (the paper's Eq. 8, Alg. 5). Resample with "
                        "cycle_sde: unedited, it returns the input exactly. Use the SOURCE prompt here.",
            inputs=[
                io.Model.Input("model", tooltip="The model to record with (stage 2 must use the same one)."),
                *conditioning_inputs(),
                *cfg_inputs(default=1.0),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode)."),
                t0_input(), steps_input(), seed_input("the forward noise"), scheduler_input(),
                io.Int.Input("batch_size", default=1, min=0, max=1000,
                             tooltip="Steps evaluated per model call (all recording calls are known up front; 0 = all "
                                     "at once, in as few calls as the free memory allows; any value is lowered to "
                                     "what fits, see the log). 1 keeps the reconstruction exact: a model's numbers "
                                     "differ slightly between batch shapes and Resample replays one step at a time, "
                                     "so a larger batch (faster on a GPU) leaves an error that guidance amplifies "
                                     "(about 1e-4 at CFG 3, 1e-1 at CFG 10 on the tiny SD1.5)."),
                _independent_input(), precision_input(),
                *lora_inputs(),
            ],
            outputs=OUTPUTS,
        )

    @classmethod
    def execute(cls, model, positive, negative, cfg, cfg_schedule, latent, t0, steps, seed, scheduler,
                batch_size, independent_noise, precision, lora=None, lora_min=0.5,
                lora_strength=1.0) -> io.NodeOutput:
        check_links(model=model, positive=positive, negative=negative, latent=latent, lora=lora)
        check_choice("cfg_schedule", cfg_schedule, SCHEDULES)
        samples, sigmas, path, meta = _setup(model, latent, t0, steps, scheduler)
        scales = guidance_scales(steps, cfg, cfg_schedule)
        meta |= {"cfg": cfg, "cfg_schedule": cfg_schedule, "seed": seed}
        forward = _forward(model, samples, sigmas, path, seed, independent_noise, precision, meta)

        def body(ctx: guider.Context):
            rows = samples.shape[0] * (1 if cfg == 1 else 2)  # a step's rows: the batch, twice with CFG
            wanted = 1 if lora is not None else min(batch_size or steps, steps)  # a LoRA strength is per level
            size = cm.items_per_call(ctx.model_patcher, samples, rows, wanted, "Cycle-SDE Record steps")
            return record_cycle_sde(ctx.denoise, forward, scales, batch_size=size, callback=cm.progress(model, steps))

        run_model = with_lora(model, lora, lora_min, lora_strength, sigmas[0])
        return _outputs(run_model, latent, positive, negative, cfg, sigmas, seed, body)
