"""The shapes examples (part of workflows.py's WORKFLOWS): the pack's own shapes model, no checkpoint, no input
image, seconds on a CPU. tests/server/test_workflows.py scores each edit against the exact answer of its scene
at the settings it ships with, and their template thumbnails are their own outputs (scripts/thumbnails.py)."""

from __future__ import annotations

import json

from workflow_nodes import LORA_WIDGETS, Settings, diffedit_mask, record, resample


def shapes_base(s: Settings, source: str, target: str | None = None) -> dict:
    """The pack's shapes model, its class prompts ("" = the null class, CFG's negative) and a KSampler-drawn scene
    ("3"): no checkpoint, no input image."""
    g = {
        "1": {"class_type": "SDEEditLoadShapesModel", "inputs": {"weights": s.shapes_weights}},
        "4": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": source}},
        "5": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": ""}},
        "2": {"class_type": "EmptyChromaRadianceLatentImage", "inputs": {
            "width": s.shapes_size, "height": s.shapes_size, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent_image": ["2", 0], "seed": 0,
            "steps": s.steps, "cfg": 3.0, "sampler_name": "dpmpp_2m_sde", "scheduler": "karras", "denoise": 1.0}},
    }
    if target is not None:
        g["6"] = {"class_type": "SDEEditShapesPrompt", "inputs": {"text": target}}
    return g


def shapes_finish(g: dict, latent_from: str, prefix: str) -> dict:
    """Decode and save the result at its own 32 px, and show it 8 times larger (nearest neighbour: the pixels stay
    sharp squares) in a Preview Image: a 32 px thumbnail is too small to judge an edit by."""
    g["20"] = {"class_type": "VAEDecode", "inputs": {"samples": [latent_from, 0], "vae": ["1", 1]}}
    g["21"] = {"class_type": "SaveImage", "inputs": {"images": ["20", 0], "filename_prefix": prefix}}
    g["22"] = {"class_type": "ImageScaleBy", "inputs": {"image": ["20", 0], "upscale_method": "nearest-exact",
                                                         "scale_by": 8.0}}
    g["23"] = {"class_type": "PreviewImage", "inputs": {"images": ["22", 0]}}
    return g


def shapes_generate(s: Settings) -> dict:
    """The shapes model with core nodes: KSampler draws a scene of the prompt's class ("red disc") on a CPU."""
    return shapes_finish(shapes_base(s, "red disc"), "3", "sde_edit/shapes_generate")


def shapes_scene(s: Settings, g: dict, text: str = "red disc") -> None:
    """The scene ("9": IMAGE, object mask) and its latent ("3"), in place of the KSampler draw."""
    x, y, r, seed = s.shapes_scene
    g["9"] = {"class_type": "SDEEditShapesScene", "inputs": {"text": text, "x": x, "y": y, "radius": r, "seed": seed,
                                                             "size": s.shapes_size}}
    g["3"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["9", 0], "vae": ["1", 1]}}
    del g["2"]


def shapes_prompt_change(s: Settings) -> dict:
    """A real prompt change out of the box: the red disc of Shapes Scene becomes a red square in place, by
    DiffEdit-SDE (the DiffEdit mask of "red square" vs "red disc"; Cycle-SDE recorded with the source prompt
    and replayed with the target inside the mask; t0 0.6, CFG 7.5 on both), four tries at once, each with its
    own noise (the small model reshapes in place in about 60 % of tries: docs/shapes_benchmarks.md).
    Recolouring ("blue disc") is beyond this model: see the benchmark."""
    g = shapes_base(s, "red disc", "red square")
    shapes_scene(s, g)
    g["7"] = diffedit_mask(vae=("1", 1))
    g["8"] = {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["3", 0], "amount": s.shapes_tries}}
    g["10"] = record(s, "4", 7.5, 0.6, "float32")
    g["10"]["inputs"] |= {"steps": s.shapes_steps, "latent": ["8", 0]}
    g["11"] = resample("6", "10", "cycle_sde", 7.5, mask=["7", 0])
    return shapes_finish(g, "11", "sde_edit/shapes_prompt_change")


def _drag_scene(s: Settings) -> dict:
    """Shapes Scene's red disc, Drag Points on it (source: the disc's centre, target: Settings.shapes_target) and
    SDE-Drag ("10") moving it, r covering the disc and a rim; not yet decoded."""
    g = shapes_base(s, "red disc")
    shapes_scene(s, g)
    size, (sx, sy, radius, _), (tx, ty) = s.shapes_size, s.shapes_scene, s.shapes_target
    points = [{"source": [round(sx * size, 1), round(sy * size, 1)],
               "target": [round(tx * size, 1), round(ty * size, 1)]}]
    g["8"] = {"class_type": "SDEEditDragPoints", "inputs": {"image": ["9", 0], "points": json.dumps(points)}}
    g["10"] = {"class_type": "SDEEditSDEDrag", "inputs": {
        "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["3", 0], "points": ["8", 0],
        "t0": 0.6, "steps": s.shapes_steps, "step_size": 2.0, "r": round(radius * size) + 2, "alpha": 1.1,
        "beta": 0.3, "cfg": 3.0, "seed": 0, "method": "sde", "multi_point": "simultaneous", "scheduler": "simple",
        "precision": "float32", "grid": "scheduler", "square_noise": "moved", "vae": ["1", 1], **LORA_WIDGETS}}
    return g


def shapes_drag(s: Settings) -> dict:
    """SDE-Drag on the shapes model out of the box: Shapes Scene draws a red disc, Drag Points shows it (click a
    source and a target on the node to change the drag), SDE-Drag moves it (r covers the disc and a rim)."""
    return shapes_finish(_drag_scene(s), "10", "sde_edit/shapes_drag")


def shapes_drag_lora(s: Settings) -> dict:
    """The shapes drag with the SDE-Drag authors' LoRA of the input image: Train Image LoRA fine-tunes a rank-4
    LoRA on the scene with its own prompt (100 AdamW steps at lr 2e-4, a few seconds on a CPU), and SDE-Drag
    applies it at the paper's falling strength (lora_strength near the clean image, lora_min 0.5 of it at t0),
    so that the drag keeps the picture's identity. On a real checkpoint it is the paper's SDE-Drag."""
    g = _drag_scene(s)
    g["11"] = {"class_type": "SDEEditTrainImageLoRA", "inputs": {
        "model": ["1", 0], "positive": ["4", 0], "latent": ["3", 0], "steps": s.lora_steps, "rank": 4,
        "learning_rate": 2e-4, "seed": 0, "training_dtype": "float32"}}
    g["10"]["inputs"]["lora"] = ["11", 0]
    return shapes_finish(g, "10", "sde_edit/shapes_drag_lora")
