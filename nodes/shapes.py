"""The shapes world in ComfyUI: a loader for the pack's own small learned models and a class prompt.

`SDEEditLoadShapesModel` gives a real ComfyUI MODEL around the UNet of shapes/unet.py and a pixel-space
VAE (built by comfy/shapes_model.py), so every node of this pack and core samplers run on it unchanged, and
core LoadImage → VAEEncode → … → VAEDecode → SaveImage work (the LATENT is the image in [−1, 1]).

`SDEEditShapesPrompt` turns "red disc", "blue square" or "" into CONDITIONING: a one-hot class row
[1, 1, 9] carried as the cross-attention tensor, which flows through ComfyUI's cond batching and CFG
like any text embedding; the model adds its embedding to the time embedding. "" is the null class:
use it as CFG's negative. The weights live in shapes/weights/.
"""

from __future__ import annotations

import pathlib

import torch
from comfy_api.latest import io

from ..shapes import world
from .comfy.shapes_model import load_shapes_model
from .common import CATEGORY, check_choice

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "shapes" / "weights"


def weight_names() -> list[str]:
    return sorted(p.name for p in WEIGHTS.glob("*.safetensors")) or ["(no shapes weights found)"]


def prompt_conditioning(text: str) -> list:
    """CONDITIONING of a class prompt: the one-hot class row as the cross-attention tensor."""
    label = world.parse_prompt(text)
    row = torch.nn.functional.one_hot(torch.tensor([label]), world.N_CLASSES + 1).float()
    return [[row[:, None, :], {"shapes_class": label}]]


class LoadShapesModel(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditLoadShapesModel",
            display_name="SDE Edit: Load Shapes Model",
            category=f"{CATEGORY}/shapes",
            description="Load one of the pack's small learned models of the shapes world (discs and squares on a "
                        "gradient; trained on a CPU by shapes/training.py). Gives a MODEL that core samplers "
                        "and every node of this pack run on, and a pixel-space VAE for VAE Encode / Decode.",
            inputs=[
                io.Combo.Input("weights", options=weight_names(),
                               tooltip="shapes_cond_*: class-conditional (use SDE Edit Shapes Prompt); "
                                       "shapes_uncond_*: unconditional (any conditioning is ignored). "
                                       "The number is the image side it was trained at."),
            ],
            outputs=[
                io.Model.Output(display_name="MODEL", tooltip="An ε-prediction model on SD1.5's discrete schedule."),
                io.Vae.Output(display_name="VAE", tooltip="Pixel-space VAE: the latent is the image in −1..1."),
            ],
        )

    @classmethod
    def execute(cls, weights) -> io.NodeOutput:
        check_choice("weights", weights, [p.name for p in WEIGHTS.glob("*.safetensors")])
        model, vae, _ = load_shapes_model(WEIGHTS / weights)
        return io.NodeOutput(model, vae)


class ShapesPrompt(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditShapesPrompt",
            display_name="SDE Edit: Shapes Prompt",
            category=f"{CATEGORY}/shapes",
            description="Conditioning of the conditional shapes model from a colour and a kind, e.g. 'red disc' or "
                        "'blue square'. Empty gives the null class: use it as the negative for CFG.",
            inputs=[
                io.String.Input("text", default="red disc",
                                tooltip="A colour (red, green, blue, yellow) and a kind (disc, square); empty for "
                                        "the unconditional (null) class."),
            ],
            outputs=[io.Conditioning.Output(display_name="CONDITIONING")],
        )

    @classmethod
    def execute(cls, text) -> io.NodeOutput:
        return io.NodeOutput(prompt_conditioning(text))


class ShapesScene(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditShapesScene",
            display_name="SDE Edit: Shapes Scene",
            category=f"{CATEGORY}/shapes",
            description="Draw a scene of the shapes world: one disc or square on a smooth two-colour gradient, from "
                        "known parameters, so every edit of it has an exact right answer (the same scene with the "
                        "object moved or recoloured). A test picture for the shapes model; no model needed.",
            inputs=[
                io.String.Input("text", default="red disc",
                                tooltip="The object: a colour (red, green, blue, yellow) and a kind (disc, square)."),
                io.Float.Input("x", default=0.3, min=0.0, max=1.0, step=0.01,
                               tooltip="The object's centre, as a fraction of the width (0 = left)."),
                io.Float.Input("y", default=0.5, min=0.0, max=1.0, step=0.01,
                               tooltip="The object's centre, as a fraction of the height (0 = top)."),
                io.Float.Input("radius", default=0.15, min=0.05, max=0.45, step=0.01,
                               tooltip="A disc's radius, a square's half side, as a fraction of the side."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF,
                             tooltip="Seed of the background gradient and the object's slight colour jitter."),
                io.Int.Input("size", default=32, min=16, max=512, step=8,
                             tooltip="Side in pixels (the pack's shapes model was trained at 32)."),
            ],
            outputs=[io.Image.Output(display_name="IMAGE", tooltip="The scene, [1, size, size, 3] in 0..1."),
                     io.Mask.Output(display_name="object_mask", tooltip="The object's exact coverage (1 = object).")],
        )

    @classmethod
    def execute(cls, text, x, y, radius, seed, size) -> io.NodeOutput:
        scene = world.one_object_scene(seed, text, x, y, radius)
        image = world.render(scene, size).permute(0, 2, 3, 1).contiguous()
        return io.NodeOutput(image, world.object_masks(scene, size)[:, 0])
