"""What the example graphs share (workflows.py, workflows_shapes.py): the settings a user's run and the test
tier's run differ in, and the pack's stage nodes as API-format nodes of a graph whose checkpoint is "1", input
latent "3" and negative prompt "5".

Every widget is set in the graphs, also an optional one at its default: the frontend sends every widget of a
loaded workflow, and the browser tier checks that it turns each file back into exactly these graphs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """What differs between a user's run and the test tier's run of the same graph."""

    ckpt: str = "v1-5-pruned-emaonly-fp16.safetensors"
    image: str = "example.png"
    steps: int = 50
    points: str = '[{"source": [300, 384], "target": [420, 384]}]'  # for the 768 px example.png
    flow_ckpt: str = "flux1-dev-fp8.safetensors"  # a flow model (Flux, SD3.x) for the flow-model graphs
    flow_steps: int = 24  # the sync-SDE authors' Flux default: 24 steps below t0 = 24/28
    shapes_weights: str = "shapes_cond_32.safetensors"  # the pack's own shapes model (shapes/weights/)
    shapes_size: int = 32  # the side it was trained at
    shapes_steps: int = 20  # steps below t0 in the shapes edits (seconds on a CPU)
    shapes_tries: int = 4  # the shapes recolour's batch: tries with their own noise
    # The picture of the shapes edits (SDE Edit: Shapes Scene): a red disc, centre (x, y), size r (fractions of
    # the side), background seed; and the drag's target. tests/server/test_workflows.py scores the edits
    # against the exact answers of this scene.
    shapes_scene: tuple[float, float, float, int] = (0.3, 0.5, 0.15, 7)
    shapes_target: tuple[float, float] = (0.7, 0.5)
    lora_steps: int = 100  # Train Image LoRA's steps (the SDE-Drag authors': 100, rank 4, lr 2e-4)


# The lora widgets of SDE-Drag, DDIM Inversion, Cycle-SDE Record and Resample: the paper's falling strength
# (1 near the clean image, 0.5 at t0). They act only when a LoRA is linked to the node's `lora` input.
LORA_WIDGETS = {"lora_min": 0.5, "lora_strength": 1.0}


def record(s: Settings, prompt: str, cfg: float, t0: float, precision: str) -> dict:
    return {"class_type": "SDEEditCycleSDERecord", "inputs": {
        "model": ["1", 0], "positive": [prompt, 0], "negative": ["5", 0], "cfg": cfg, "cfg_schedule": "constant",
        "latent": ["3", 0], "t0": t0, "steps": s.steps, "seed": 0, "scheduler": "simple", "batch_size": 1,
        "independent_noise": False, "precision": precision, **LORA_WIDGETS}}


def ddim_inversion(s: Settings, prompt: str, cfg: float, t0: float) -> dict:
    return {"class_type": "SDEEditDDIMInversion", "inputs": {
        "model": ["1", 0], "positive": [prompt, 0], "negative": ["5", 0], "cfg": cfg, "cfg_schedule": "constant",
        "latent": ["3", 0], "t0": t0, "steps": s.steps, "scheduler": "simple", "precision": "float32",
        **LORA_WIDGETS}}


def resample(prompt: str, stage1: str, method: str, cfg: float, mask: list | None = None) -> dict:
    inputs = {"model": ["1", 0], "positive": [prompt, 0], "negative": ["5", 0], "cfg": cfg,
              "cfg_schedule": "constant", "latent": [stage1, 0], "trajectory": [stage1, 1], "method": method,
              "seed": 0, **LORA_WIDGETS}
    if mask is not None:
        inputs["mask"] = mask
    return {"class_type": "SDEEditResample", "inputs": inputs}


def diffedit_mask(vae: tuple = ("1", 2)) -> dict:
    """DiffEdit's mask: where the target prompt ("6") and the source caption ("4") predict different noise."""
    return {"class_type": "SDEEditDiffEditMask", "inputs": {
        "model": ["1", 0], "target": ["6", 0], "reference": ["4", 0], "latent": ["3", 0], "cfg": 7.5, "noises": 10,
        "noise_strength": 0.5, "clamp_factor": 3.0, "threshold": 0.5, "seed": 0, "batch_size": 0, "smoothing": 0.0,
        "fill_holes": False, "vae": list(vae)}}
