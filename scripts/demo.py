"""The main job: SDE-Drag (and a prompt change) through a real ComfyUI server, as one side-by-side image.

Starts ComfyUI's own server (main.py) on 127.0.0.1, puts an input picture in its input folder and
queues one graph of core and pack nodes; the results come back over HTTP (/view).

With no checkpoint named it runs on the pack's own learned shapes model (shapes/weights/,
docs/shapes_training.md; 32 px, seconds per edit on a CPU): the input is a scene of the shapes
world drawn by SDE Edit: Shapes Scene (a red disc on a gradient, background seed 2026, fixed before
any result was seen and used by no tuning run), the graph runs SDE Edit Drag Points, SDE-Drag (the
node's defaults) and ODE-Drag of the same drag and a prompt change "red disc" → "red square" by
DiffEdit-SDE, four tries (the shipped prompt-change example), and the output is input with the arrow |
the exact answer | SDE-Drag | ODE-Drag | the four tries, each panel upscaled 8× (nearest) with its mean
|output − exact answer| printed under it.

With `--checkpoint NAME` (a file in ComfyUI/models/checkpoints) it runs the drag on that model: a
drawn red disc on a gradient at 512 px, CLIP prompts, the paper's 120 steps; the output is input with
the arrow | SDE-Drag | ODE-Drag.

Usage: python scripts/demo.py [--checkpoint NAME] [--out PATH] [--steps N] [--t0 T] [--cfg C] [--seed S]
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hostlib import ROOT, ComfyServer  # noqa: E402

if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: never shadow ComfyUI's own `nodes` module

SHAPES_WEIGHTS = "shapes_cond_32.safetensors"  # the conditional shapes model (shapes/weights/)
SHAPES_SIZE = 32  # the side it was trained at
ZOOM = 8  # panels of the shapes demo are upscaled this much (nearest) in the side-by-side image


def draw_input(path: pathlib.Path, size: int) -> None:
    """A gradient background with a red disc: the kind of picture the pack edits."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size))
    px = img.load()
    for y in range(size):
        for x in range(size):
            t = (x + y) / (2 * size)
            px[x, y] = (int(90 + 60 * t), int(100 + 50 * t), int(130 - 30 * t))
    d = ImageDraw.Draw(img)
    r = size // 5
    d.ellipse((size // 2 - r, size // 2 - r, size // 2 + r, size // 2 + r), fill=(200, 40, 40))
    img.save(path)


DEMO_SCENE = {"text": "red disc", "x": 0.3, "y": 0.5, "radius": 0.15, "seed": 2026}  # the shapes demo's picture
DEMO_TARGET = (0.7, 0.5)  # where the disc is dragged (fractions of the side)


def demo_scene(seed: int = DEMO_SCENE["seed"]):
    """(scene, dragged answer, reshaped answer) of the shapes demo, from the shapes world's own parameters."""
    from shapes import world

    d = DEMO_SCENE
    scene = world.one_object_scene(seed, d["text"], d["x"], d["y"], d["radius"])
    return scene, world.moved(scene, 0, *DEMO_TARGET), world.reshaped(scene, 0, "square")


def drag_graph(image: str | None, points: list, steps: int, t0: float, cfg: float, seed: int, *,
               ckpt: str | None = None, r: int = 5, change: tuple[str, str] | None = None,
               scene_seed: int = DEMO_SCENE["seed"]) -> dict:
    """SDE-Drag and ODE-Drag of the same drags, the input with the drags drawn as arrows, and optionally a
    prompt change as the shipped shapes prompt-change example does it. `ckpt` None: the pack's shapes model
    with its class prompts, the picture drawn by Shapes Scene (`image` unused); else a checkpoint with CLIP
    prompts and `image` loaded."""
    if ckpt is None:
        source = change[0] if change else "red disc"
        vae = ["1", 1]
        base = {
            "1": {"class_type": "SDEEditLoadShapesModel", "inputs": {"weights": SHAPES_WEIGHTS}},
            "4": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": source}},
            "5": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": ""}},
            "2": {"class_type": "SDEEditShapesScene", "inputs": DEMO_SCENE | {"seed": scene_seed,
                                                                               "size": SHAPES_SIZE}},
        }
    else:
        vae = ["1", 2]
        base = {
            "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
            "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red disc on a smooth background",
                                                              "clip": ["1", 1]}},
            "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
            "2": {"class_type": "LoadImage", "inputs": {"image": image}},
        }

    def drag(method: str) -> dict:
        return {"class_type": "SDEEditSDEDrag", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["3", 0], "points": ["6", 0],
            "t0": t0, "steps": steps, "step_size": 2.0, "r": r, "alpha": 1.1, "beta": 0.3, "cfg": cfg,
            "seed": seed, "method": method, "multi_point": "simultaneous", "scheduler": "simple",
            "precision": "float32", "grid": "scheduler", "square_noise": "moved", "vae": vae}}

    g = base | {
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": vae}},
        "6": {"class_type": "SDEEditDragPoints", "inputs": {"image": ["2", 0], "points": json.dumps(points)}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 1], "filename_prefix": "demo_arrows"}},
        "8": drag("sde"),
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": vae}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "demo_sde"}},
        "11": drag("ode"),
        "12": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": vae}},
        "13": {"class_type": "SaveImage", "inputs": {"images": ["12", 0], "filename_prefix": "demo_ode"}},
    }
    if ckpt is None:
        g["22"] = {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "demo_input"}}
    if change:
        from workflows import Settings, shapes_prompt_change  # the shipped prompt-change example, as it ships

        example = shapes_prompt_change(Settings(shapes_steps=steps))
        g["14"] = {"class_type": "SDEEditShapesPrompt", "inputs": {"text": change[1]}}
        g["19"] = example["7"] | {"inputs": example["7"]["inputs"] | {"target": ["14", 0]}}  # DiffEdit's mask
        g["20"] = example["8"]  # the tries: a batch of the input latent
        g["15"] = example["10"] | {"inputs": example["10"]["inputs"] | {"latent": ["20", 0]}}
        g["16"] = example["11"] | {"inputs": example["11"]["inputs"] | {"positive": ["14", 0], "mask": ["19", 0],
                                                                          "latent": ["15", 0], "trajectory": ["15", 1]}}
        g["17"] = {"class_type": "VAEDecode", "inputs": {"samples": ["16", 0], "vae": vae}}
        g["18"] = {"class_type": "SaveImage", "inputs": {"images": ["17", 0], "filename_prefix": "demo_change"}}
    return g


def output_panels(server, entry) -> dict:
    """{name: PIL image} of a run's saved outputs, by file prefix (demo_NAME_…); the change's tries are
    change1, change2, … in batch order."""
    from PIL import Image

    panels, tries = {}, []
    for meta, png in server.images(entry):
        if meta["type"] != "output":
            continue
        name = meta["filename"].split("_")[1]
        image = Image.open(io.BytesIO(png)).convert("RGB")
        if name == "change":
            tries.append((meta["filename"], image))
        else:
            panels[name] = image
    for k, (_, image) in enumerate(sorted(tries, key=lambda t: t[0]), start=1):
        panels[f"change{k}"] = image
    return panels


def errors(panels: dict, answers: dict) -> dict[str, float]:
    """Mean |panel − exact answer| (0..1 RGB) of each panel that has an answer."""
    import numpy as np

    def key(name):
        return "drag" if name in ("sde", "ode") else "change" if name.startswith("change") else None

    return {name: float(np.abs(np.asarray(im, dtype=np.float32) / 255 - answers[key(name)]).mean())
            for name, im in panels.items() if key(name)}


def side_by_side(panels: dict, order: list[tuple[str, str]], zoom: int, arrows: list | None = None,
                 notes: dict[str, str] | None = None):
    """The panels in a row, upscaled `zoom`× (nearest), each labelled (and `notes[name]` on a second line);
    `arrows` [(x0, y0, x1, y1)] in input pixels are drawn on the first panel."""
    from PIL import Image, ImageDraw

    w, h = panels[order[0][0]].size
    pw, ph, label_h = w * zoom, h * zoom, 30 if notes else 16
    out = Image.new("RGB", (pw * len(order), ph + label_h), "white")
    draw = ImageDraw.Draw(out)
    for k, (name, label) in enumerate(order):
        out.paste(panels[name].resize((pw, ph), Image.NEAREST), (k * pw, 0))
        draw.text((k * pw + 4, ph + 2), label, fill="black")
        if notes and name in notes:
            draw.text((k * pw + 4, ph + 15), notes[name], fill="black")
    for x0, y0, x1, y1 in arrows or []:
        a, b = (x0 * zoom, y0 * zoom), (x1 * zoom, y1 * zoom)
        width, head = max(2, pw // 64), max(8, pw // 12)  # sized by the panel: 32 px × 8 or 512 px × 1
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = max((dx * dx + dy * dy) ** 0.5, 1e-6)
        ux, uy = dx / n, dy / n
        draw.line((a, (b[0] - head * ux / 2, b[1] - head * uy / 2)), fill="white", width=width)  # ends in the head
        draw.polygon([b, (b[0] - head * ux + head * uy / 2, b[1] - head * uy - head * ux / 2),
                      (b[0] - head * ux - head * uy / 2, b[1] - head * uy + head * ux / 2)], fill="white")
        draw.ellipse((a[0] - head / 3, a[1] - head / 3, a[0] + head / 3, a[1] + head / 3), outline="white", width=width)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="Run SDE-Drag and ODE-Drag (and, on the shapes model, a prompt change) "
                                             "through a real ComfyUI server.")
    ap.add_argument("--checkpoint", help="a checkpoint file in ComfyUI/models/checkpoints (default: the pack's "
                                         "shapes model)")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "output" / "demo.png")
    ap.add_argument("--size", type=int, default=512, help="image side in px with --checkpoint (default 512)")
    ap.add_argument("--steps", type=int, default=None, help="steps below t0 (default 120; 20 on the shapes model)")
    ap.add_argument("--t0", type=float, default=0.6)
    ap.add_argument("--cfg", type=float, default=3.0, help="drag guidance scale at t0, linear down to 1 (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="the edits' noise")
    ap.add_argument("--scene-seed", type=int, default=DEMO_SCENE["seed"], help="the shapes scene's background")
    args = ap.parse_args()

    import numpy as np
    from PIL import Image

    shapes = args.checkpoint is None
    steps = args.steps or (20 if shapes else 120)
    notes, answers = None, {}
    with tempfile.TemporaryDirectory(prefix="sde_edit_demo_") as tmp:
        with ComfyServer(pathlib.Path(tmp)) as server:
            image = server.dirs["input"] / "demo_input.png"
            if shapes:
                size, zoom = SHAPES_SIZE, ZOOM
                scene, moved, reshaped = demo_scene(args.scene_seed)
                o = scene.shapes[0]
                points = [{"source": [o.cx * size, o.cy * size],
                           "target": [DEMO_TARGET[0] * size, DEMO_TARGET[1] * size]}]
                graph = drag_graph(None, points, steps, args.t0, args.cfg, args.seed, r=round(o.r * size) + 2,
                                   change=("red disc", "red square"), scene_seed=args.scene_seed)
                what = f"the shapes model {SHAPES_WEIGHTS}"
                from shapes import world

                answers = {k: world.render(v, size)[0].permute(1, 2, 0).numpy()
                           for k, v in (("drag", moved), ("change", reshaped))}
            else:
                size, zoom = args.size, 1
                draw_input(image, size)
                points = [{"source": [size // 2, size // 2], "target": [size // 2 + size // 4, size // 2]}]
                graph = drag_graph(image.name, points, steps, args.t0, args.cfg, args.seed, ckpt=args.checkpoint)
                what = args.checkpoint
            also = " and a prompt change" if shapes else ""
            print(f"ComfyUI is up at {server.url}; queueing SDE-Drag and ODE-Drag{also} "
                  f"({what}, {size} px, {steps} steps below t0 {args.t0}, drag {points[0]['source']} -> "
                  f"{points[0]['target']})", flush=True)
            entry = server.run(graph, timeout=3600)
            panels = output_panels(server, entry)
            if not shapes:
                panels["input"] = Image.open(image).convert("RGB")
    order = [("input", "input + drag"), ("sde", "SDE-Drag"), ("ode", "ODE-Drag")]
    if shapes:
        panels["answer"] = Image.fromarray((answers["drag"] * 255).round().astype(np.uint8))
        order.insert(1, ("answer", "exact answer"))
        order += [(f"change{k}", f"-> square, try {k}") for k in range(1, 1 + sum(n.startswith("change")
                                                                                       for n in panels))]
        errs = errors(panels, answers)
        notes = {k: f"err {v:.3f}" for k, v in errs.items()}
        print("mean |output - exact answer| (0..1 RGB): " + ", ".join(f"{k} {v:.4f}" for k, v in errs.items()))
    arrows = [(*p["source"], *p["target"]) for p in points]
    side = side_by_side(panels, order, zoom, arrows, notes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    side.save(args.out)
    single = args.out.with_name(args.out.stem + "_sde_drag.png")
    panels["sde"].save(single)
    print(f"wrote {args.out.resolve()} ({' | '.join(label for _, label in order)}) and the SDE-Drag result "
          f"{single.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
