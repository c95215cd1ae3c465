"""SDE-Drag (docs/design.md §4): the copy-paste primitive and the whole multi-step algorithm.

`SDEEditDragCopyPaste` is Eq. 12 on a LATENT (x_t0 of a stage-1 node): wire stage 1 → copy-paste
→ Resample yourself. `SDEEditSDEDrag` is Algorithm 1 in one node: m sub-steps, each a full cycle
of the same stage code (forward trajectory, paste, coupled Cycle-SDE back down with the
recording fused into the sampling calls; or, for ODE-Drag, DDIM inversion, paste, DDIM).
"""

from __future__ import annotations

from comfy_api.latest import io

from ..sampling import check_steps, check_t0, guidance_scales, streams
from ..sampling.drag import (
    DRAG_METHODS,
    MULTI_POINT,
    SQUARE_NOISES,
    DragPair,
    copy_paste,
    drag_plan,
    drag_steps,
    plan_length,
    sde_drag,
)
from ..sampling.schedule import marginal_std
from . import limits
from .comfy import guider
from .comfy import model as cm
from .common import (
    CATEGORY,
    PRECISIONS,
    Trajectory_,
    check_choice,
    check_links,
    lora_inputs,
    newer_schema_fields,
    output_latent,
    precision_input,
    require_trajectory,
    run_body,
    scheduler_input,
    seed_input,
    steps_input,
    t0_input,
    with_lora,
)

# The node's defaults for the two SDE-Drag options (the paper's algorithm is grid paper + square_noise
# recorded); chosen on held-out shapes scenes, see docs/shapes_benchmarks.md.
DEFAULT_GRID = "scheduler"
DEFAULT_SQUARE_NOISE = "moved"


def points_input() -> io.String.Input:
    return io.String.Input(
        "points", default="[]",
        tooltip="The drags, in image pixels, as JSON: [{\"source\": [x, y], \"target\": [x, y]}, ...] or the "
                "alternating [{\"x\":..,\"y\":..}, ...] list (source, target, …) of a points editor. Connect SDE "
                "Edit Drag Points to place them by clicking.")


def drag_shape_inputs() -> list[io.Input]:
    return [
        io.Int.Input("r", default=5, min=1, max=64,
                     tooltip="Half-extent of the copied square, in latent pixels (5: a 10×10 square, 80×80 image "
                             "px)."),
        io.Float.Input("alpha", default=1.1, min=0.0, max=5.0, step=0.01,
                       tooltip="α: the pasted copy is α times the source (1.1 in the paper: a little stronger)."),
        io.Float.Input("beta", default=0.3, min=0.0, max=1.0, step=0.01,
                       tooltip="β: the source area keeps β of itself and gets sqrt(1−β²) fresh noise (1 = "
                               "unchanged)."),
    ]


def vae_input() -> io.Vae.Input:
    return io.Vae.Input("vae", optional=True,
                        tooltip="Optional: the VAE whose downscale factor maps image pixels to latent pixels "
                                "(without it: 8, right for the SD and Flux families).")


def latent_pairs(points: str, samples, vae=None) -> tuple[list[DragPair], int]:
    """The drags in latent pixels, checked against the image the latent stands for; and the factor."""
    factor = cm.image_scale(vae)
    h, w = samples.shape[-2:]
    pairs = limits.checked_points(points, w * factor, h * factor)
    return [p.scaled_down(factor) for p in pairs], factor


class DragCopyPaste(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditDragCopyPaste",
            display_name="SDE Edit: Drag Copy-Paste",
            category=f"{CATEGORY}/drag",
            description="SDE-Drag's edit (the paper's Eq. 12) on a noisy latent: for each drag in order, copy the "
                        "square at the source, re-noise the source (β), paste α × the copy at the target. Put it "
                        "between a stage-1 node and Resample.",
            inputs=[
                io.Model.Input("model", tooltip="The model of stage 1: the paste happens in its latent space."),
                io.Latent.Input("latent", tooltip="x_t0, the noisy latent of a stage-1 node."),
                Trajectory_.Input("trajectory", tooltip="The stage-1 node's trajectory: its level σ(t0) sets the "
                                                        "scale of the fresh noise, so the re-noised square has the "
                                                        "latent's own variance at t0 on every model family."),
                points_input(),
                *drag_shape_inputs(),
                seed_input("the noise put into the source squares (the 'paste' stream)"),
                vae_input(),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="x̃_t0 with the drags pasted.")],
        )

    @classmethod
    def execute(cls, model, latent, trajectory, points, r, alpha, beta, seed, vae=None) -> io.NodeOutput:
        check_links(model=model, latent=latent, vae=vae)
        traj = require_trajectory(trajectory)
        samples = latent["samples"]
        cm.check_latent(model, samples)
        traj.check(like=samples, path=cm.model_path(model))
        pairs, _ = latent_pairs(points, samples, vae)
        x = cm.to_model_space(model, samples)
        std = marginal_std(traj.sigmas[0], traj.path)
        out = copy_paste(x, pairs, r, alpha, beta, streams.generator(seed, "paste"), std)
        return io.NodeOutput(output_latent(latent, cm.to_latent_space(model, out)))


class SDEDrag(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditSDEDrag",
            **newer_schema_fields(search_aliases=["drag", "move object", "dragdiffusion", "ode drag"]),
            display_name="SDE Edit: SDE-Drag",
            category=f"{CATEGORY}/drag",
            description="SDE-Drag (the paper's Algorithm 1) in one node: the drag is split into sub-steps of about "
                        "`step_size` latent pixels; each noises the image up to t0 with a recorded trajectory, pastes "
                        "the squares (Eq. 12) and comes back down by Cycle-SDE. method ode gives the ODE-Drag "
                        "baseline (DDIM inversion and DDIM). Defaults are the paper's (120 steps: minutes on a GPU).",
            inputs=[
                io.Model.Input("model", tooltip="The model."),
                io.Conditioning.Input("positive", tooltip="A prompt describing the image (the paper: its caption)."),
                io.Conditioning.Input("negative", tooltip="The negative prompt (evaluated only where the scale > 1)."),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode)."),
                points_input(),
                t0_input(tooltip="How far up the noise range each sub-step goes (the paper: 0.6)."),
                steps_input(120, "Steps below t0 per sub-step (the paper: 120; try 20–40 for a quick look)."),
                io.Float.Input("step_size", default=2.0, min=0.5, max=64.0, step=0.5,
                               tooltip="Latent pixels moved per sub-step (the paper: 2). The longest drag sets the "
                                       "number of sub-steps m."),
                *drag_shape_inputs(),
                io.Float.Input("cfg", default=3.0, min=1.0, max=30.0, step=0.1,
                               tooltip="Guidance scale at t0, falling linearly to 1 at the last step (the paper: 3)."),
                seed_input("the drag's noise (streams 'forward', 'paste' and 'fresh' of each sub-step)"),
                io.Combo.Input("method", options=list(DRAG_METHODS), default="sde",
                               tooltip="sde: SDE-Drag (Cycle-SDE, one batched model call a step). ode: ODE-Drag, the "
                                       "baseline (DDIM inversion and DDIM: twice the calls)."),
                io.Combo.Input("multi_point", options=list(MULTI_POINT), default="simultaneous",
                               tooltip="simultaneous: all drags move together, sub-step by sub-step (the paper). "
                                       "sequential: one drag after the other, each in its own sub-steps."),
                scheduler_input("ComfyUI's scheduler that places the noise levels (grid scheduler only)."),
                precision_input("dtype of the solver state and the trajectory."),
                io.Combo.Input("grid", options=list(cm.GRIDS), default=DEFAULT_GRID,
                               tooltip="scheduler: the tail of ComfyUI's schedule, ending at σ = 0. paper: the "
                                       "authors' grid, uniform in the model's timestep, ending at its lowest "
                                       "training level (no step to σ = 0)."),
                io.Combo.Input("square_noise", options=list(SQUARE_NOISES), default=DEFAULT_SQUARE_NOISE,
                               tooltip="sde only. recorded: replay the recorded noise everywhere (the paper). fresh: "
                                       "fresh noise inside the two squares of each sub-step, so the old object's "
                                       "edges are not replayed there; fresh_vacated: only where the object leaves "
                                       "(source square minus target square)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Optional. White = may change; elsewhere each step follows the trajectory "
                                      "(the paper's mask). Absent: everything may change."),
                vae_input(),
                *lora_inputs(),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="The dragged image's latent.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent, points, t0, steps, step_size, r, alpha, beta, cfg, seed,
                method, multi_point, scheduler, precision, grid=DEFAULT_GRID, square_noise=DEFAULT_SQUARE_NOISE,
                mask=None, vae=None, lora=None, lora_min=0.5, lora_strength=1.0) -> io.NodeOutput:
        check_links(model=model, positive=positive, negative=negative, latent=latent, mask=mask, vae=vae, lora=lora)
        check_choice("method", method, DRAG_METHODS)
        check_choice("multi_point", multi_point, MULTI_POINT)
        check_choice("grid", grid, cm.GRIDS)
        check_choice("square_noise", square_noise, SQUARE_NOISES)
        check_t0(t0)
        check_steps(steps)
        samples = latent["samples"]
        cm.check_latent(model, samples)
        pairs, _ = latent_pairs(points, samples, vae)
        m = plan_length(pairs, step_size, multi_point)
        limits.DRAG_STEPS.check("steps", m * steps, f"the drags take {m:,} sub-steps of {step_size:g} latent px, "
                                f"each of {steps} steps: lower steps, raise step_size or shorten the drags")
        plan = drag_plan(pairs, step_size, multi_point)
        sigmas = cm.level_grid(model, steps, t0, scheduler, grid)
        path, dt = cm.model_path(model), PRECISIONS[precision]
        scales = guidance_scales(steps, cfg, "linear")
        m_lat = cm.mask_to_latent(mask, samples)
        bar = cm.progress(model, drag_steps(plan, steps, method))
        x = cm.to_model_space(model, samples).to(dt)

        def body(ctx: guider.Context):
            return sde_drag(ctx.denoise, x, plan, sigmas, path, scales, seed, r=r, alpha=alpha, beta=beta,
                            method=method, square_noise=square_noise, mask=m_lat, dtype=dt, callback=bar)

        run_model = with_lora(model, lora, lora_min, lora_strength, sigmas[0])
        return io.NodeOutput(run_body(run_model, {"positive": positive, "negative": negative}, cfg, latent, sigmas,
                                      seed, body))
