"""What the stage nodes share: the trajectory socket type, input widgets, and the checks users meet."""

from __future__ import annotations

import dataclasses

import torch
from comfy_api.latest import io

from ..sampling import Trajectory
from ..sampling.guidance import SCHEDULES
from .comfy import guider
from .comfy import lora as cl
from .comfy import model as cm
from .limits import shown

CATEGORY = "sde_edit"
Trajectory_ = io.Custom("SDE_TRAJECTORY")
Lora_ = io.Custom("LORA_MODEL")  # core Train LoRA's output type: {weight name: tensor}
# The fields this ComfyUI's io.Schema has. Newer releases add some (search_aliases: more words the node search
# finds a node by); each is passed only where it exists, found by looking, not by comparing version strings.
SCHEMA_FIELDS = frozenset(f.name for f in dataclasses.fields(io.Schema))


def newer_schema_fields(**fields) -> dict:
    """The given io.Schema keywords that this ComfyUI's io.Schema has (the others are left out, not refused)."""
    return {k: v for k, v in fields.items() if k in SCHEMA_FIELDS}


def check_choice(name: str, value, options) -> None:
    """A combo value outside its options is a ValueError naming them: ComfyUI 0.3.75 does not check the values
    of V3 combo inputs at validation, so a typed or stale value (an API graph, an old workflow) reaches execute."""
    if value not in options:
        raise ValueError(f"{name} {shown(value)} is not one of {', '.join(map(str, options))}: pick one of them")


def _is_conditioning(value) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(c, (list, tuple)) and len(c) == 2 and isinstance(c[0], torch.Tensor) and isinstance(c[1], dict)
        for c in value)


# The pack's socket inputs by name (every node uses these names), what they hold, and where to connect them.
_LINKS = {
    "model": ("MODEL", cm.is_model, "the MODEL output of Load Checkpoint"),
    "vae": ("VAE", cm.is_vae, "the VAE output of Load Checkpoint"),
    "latent": ("LATENT", lambda v: isinstance(v, dict) and isinstance(v.get("samples"), torch.Tensor),
               "a LATENT output, e.g. VAE Encode's"),
    "image": ("IMAGE", lambda v: isinstance(v, torch.Tensor), "an IMAGE output, e.g. Load Image's"),
    "mask": ("MASK", lambda v: isinstance(v, torch.Tensor), "a MASK output, e.g. Load Image's"),
    **{name: ("CONDITIONING", _is_conditioning, "the output of CLIP Text Encode")
       for name in ("positive", "negative", "source", "target", "reference")},
    "lora": ("LORA_MODEL", lambda v: isinstance(v, dict) and bool(v) and all(isinstance(t, torch.Tensor)
                                                                              for t in v.values()),
             "the lora output of Train LoRA or of SDE Edit Load LoRA"),
}
_OPTIONAL = ("mask", "vae", "lora")


def check_links(**values) -> None:
    """Each socket input holds what its socket carries. ComfyUI passes a plain value typed into an API prompt
    where a link belongs (a number, a string, null) on to execute; this says so instead of an AttributeError."""
    for name, value in values.items():
        kind, holds, where = _LINKS[name]
        if value is None and name in _OPTIONAL:
            continue
        if not holds(value):
            raise ValueError(f"{name}: expected a {kind} but got {_got(value)}: connect {where}")


def _got(value) -> str:
    if isinstance(value, (list, tuple)) and not value:
        return "an empty list"
    if isinstance(value, (str, int, float, bool, type(None))):
        return f"a plain value, {shown(value, 40)}"
    return f"a {type(value).__name__}"


class _Choices(dict):
    """A combo's options and their values; an unknown option raises check_choice's ValueError, not a KeyError."""

    def __init__(self, name: str, items: dict):
        super().__init__(items)
        self.name = name

    def __missing__(self, key):
        check_choice(self.name, key, list(self))


PRECISIONS = _Choices("precision", {"float32": torch.float32, "float64": torch.float64})


def t0_input(default: float = 0.6, tooltip: str | None = None) -> io.Float.Input:
    return io.Float.Input(
        "t0", default=default, min=0.01, max=1.0, step=0.01,
        tooltip=tooltip or "How far up the noise range stage 1 goes: a fraction of the model's time range (1 = pure "
                           "noise). Higher edits more and keeps less. Means the same on SD1.5, SDXL, SD3 and Flux.")


def steps_input(default: int = 20, tooltip: str | None = None) -> io.Int.Input:
    return io.Int.Input(
        "steps", default=default, min=1, max=1000,
        tooltip=tooltip or "Steps actually run between t0 and the clean end (the paper's n). The grid is the tail of "
                           "a full schedule of round(steps / t0) steps, as KSampler does with denoise = t0.")


def scheduler_input(tooltip: str | None = None) -> io.Combo.Input:
    return io.Combo.Input(
        "scheduler", options=list(cm.SCHEDULERS), default="simple",
        tooltip=tooltip or "ComfyUI's scheduler that places the noise levels ('simple' and 'normal' are uniform in "
                           "the model's timestep, as in the paper).")


def seed_input(what: str) -> io.Int.Input:
    return io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                        tooltip=f"Seed of {what}. The same seed gives the same result on any device.")


def cfg_inputs(default: float = 1.0) -> list[io.Input]:
    return [
        io.Float.Input("cfg", default=default, min=0.0, max=100.0, step=0.1, round=0.01,
                       tooltip="Classifier-free guidance scale (the maximum, with the linear schedule). At 1 the "
                               "negative prompt is not evaluated at all."),
        io.Combo.Input("cfg_schedule", options=list(SCHEDULES), default="constant",
                       tooltip="constant: cfg at every step. linear: from cfg at t0 down to 1 at the last step "
                               "(SDE-Drag's schedule). Record and replay must use the same one for an exact "
                               "reconstruction."),
    ]


def precision_input(tooltip: str | None = None) -> io.Combo.Input:
    return io.Combo.Input(
        "precision", options=list(PRECISIONS), default="float32",
        tooltip=tooltip or "dtype of the solver state and of the recorded trajectory. float64 keeps Cycle-SDE's "
                "reconstruction exact under strong guidance (the paper's Table 3); the model still runs in "
                "its own dtype.")


def conditioning_inputs() -> list[io.Input]:
    return [
        io.Conditioning.Input("positive", tooltip="The prompt the model follows in this stage."),
        io.Conditioning.Input("negative", tooltip="The negative prompt (only evaluated where the scale is not 1)."),
    ]


def lora_inputs() -> list[io.Input]:
    """The optional LoRA of the input image, with SDE-Drag's falling strength (docs/design.md §4)."""
    return [
        Lora_.Input("lora", optional=True,
                    tooltip="Optional: a LoRA fine-tuned on the input image (Train LoRA's lora output, or SDE Edit "
                            "Load LoRA). Its strength falls from lora_strength near the clean image to lora_min × "
                            "lora_strength at t0, on a cosine (the SDE-Drag paper's schedule). Calls run one noise "
                            "level each while it is connected."),
        io.Float.Input("lora_min", default=0.5, min=0.0, max=1.0, step=0.05, optional=True,
                       tooltip="The LoRA's relative strength at t0 (the paper: 0.5); 1 keeps it constant."),
        io.Float.Input("lora_strength", default=1.0, min=-4.0, max=4.0, step=0.05, optional=True,
                       tooltip="The LoRA's strength near the clean image (1: as trained; 0: as if not connected)."),
    ]


def with_lora(model, lora, lora_min: float, lora_strength: float, sigma_top):
    """The model to run: `model` itself without a LoRA, else a clone carrying it at the falling strength from
    σ_0 = `sigma_top` (the grid's top). `model` is never changed."""
    return model if lora is None else cl.with_falling_lora(model, lora, lora_min, lora_strength, float(sigma_top))


def require_trajectory(trajectory) -> Trajectory:
    """The input itself, if it is a trajectory (a wrong link is a user error, said plainly)."""
    if not isinstance(trajectory, Trajectory):
        raise ValueError(f"trajectory: expected an SDE_TRAJECTORY but got {_got(trajectory)}: connect the "
                         "trajectory output of an SDE Edit stage-1 node")
    return trajectory


def check_trajectory(model, trajectory: Trajectory, samples: torch.Tensor, method: str) -> Trajectory:
    """Stage 2's checks, each a ValueError that says what to change."""
    require_trajectory(trajectory)
    recorded = trajectory.meta.get("model")
    here = cm.model_identity(model)
    if recorded is not None and recorded != here:
        raise ValueError(f"trajectory was recorded with another model ({recorded['model']}, "
                         f"{recorded['model_sampling']}) than this one ({here['model']}, {here['model_sampling']}): "
                         "record it again with this model")
    return trajectory.check(like=samples, path=cm.model_path(model), method=method)


def output_latent(latent: dict, samples: torch.Tensor) -> dict:
    """A new LATENT dict with `samples` (inputs are cached and shared: never modified)."""
    out = dict(latent)
    out["samples"] = samples
    return out


def run_body(model, conds: dict, cfg: float, latent: dict, sigmas: torch.Tensor, seed: int, body) -> dict:
    """The LATENT that `body` (a SAMPLER form's body) makes from `latent` inside the guider, with the node's
    conditioning at `cfg`: the one way a node that has a SAMPLER form runs it."""
    out = guider.run(model, conds, cfg, latent["samples"], sigmas, seed, guider.LoopSampler(body))
    return output_latent(latent, out)


def start_state(model, x: torch.Tensor, trajectory: Trajectory) -> torch.Tensor:
    """x̃_t0 (given in model space) in the trajectory's dtype: its x_t0 plus the edit made to it.

    The edit is taken as the difference between the incoming latent and the x_t0 that stage 1
    output (both through the same LATENT round trip), so an unedited latent starts stage 2
    exactly at the recorded x_t0, float64 included, and not at a float32 round trip of it.
    """
    x_t0 = trajectory.latents[0]
    emitted = cm.to_model_space(model, cm.to_latent_space(model, x_t0))
    delta = x.to(torch.float32) - emitted.to(x.device)
    return x_t0 + delta.to(x_t0.device, x_t0.dtype)
