"""The main job: SDE-Drag (and a prompt change) through a real ComfyUI server, as one side-by-side image.

Starts ComfyUI's own server (main.py) on 127.0.0.1, puts an input picture in its input folder and
queues one graph of core and pack nodes; the results come back over HTTP (/view).

With no checkpoint named it runs on the pack's own learned shapes model (nodes/shapes_weights/,
docs/shapes_training.md; 32 px, seconds per edit on a CPU): the input is a scene of the shapes
world (a red disc on a gradient), the graph runs SDE Edit Drag Points, SDE-Drag and ODE-Drag of the
same drag (ALGORITHMS.md §4) and a prompt change "red disc" → "blue disc" by Cycle-SDE record +
resample (§3), and the output is input with the arrow | SDE-Drag | ODE-Drag | recolour, each panel
upscaled 8× (nearest).

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

SHAPES_WEIGHTS = "shapes_cond_32.safetensors"  # the conditional shapes model (nodes/shapes_weights/)
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


def shapes_scene(path: pathlib.Path, seed: int) -> tuple[float, float, float]:
    """A scene of the shapes world (one red disc on a gradient, its centre at x = 0.3) saved as a PNG;
    returns the disc's centre and radius as fractions of the side."""
    import numpy as np
    from PIL import Image

    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # appended: never shadow ComfyUI's own `nodes` module
    from sampling import shapes_world as world

    scene = world.random_scene(np.random.default_rng(seed), 1, kind=0, colour=0, r_range=(0.15, 0.17))  # red disc
    scene = world.moved(scene, 0, 0.3, 0.5)
    pixels = (world.render(scene, SHAPES_SIZE)[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    Image.fromarray(pixels).save(path)
    shape = scene.shapes[0]
    return shape.cx, shape.cy, shape.r


def drag_graph(image: str, points: list, steps: int, t0: float, cfg: float, seed: int, *, ckpt: str | None = None,
               r: int = 5, recolour: tuple[str, str] | None = None, recolour_cfg: float = 7.5,
               recolour_t0: float = 0.6) -> dict:
    """SDE-Drag and ODE-Drag of the same drags, the input with the drags drawn as arrows, and optionally a
    prompt change by Cycle-SDE. `ckpt` None: the pack's shapes model with its class prompts (the first of
    `recolour`, else "red disc", is the picture's prompt); else a checkpoint with CLIP prompts."""
    if ckpt is None:
        source = recolour[0] if recolour else "red disc"
        base = {
            "1": {"class_type": "SDEEditLoadShapesModel", "inputs": {"weights": SHAPES_WEIGHTS}},
            "4": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": source}},
            "5": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": ""}},
        }
        vae = ["1", 1]
    else:
        base = {
            "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
            "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red disc on a smooth background",
                                                              "clip": ["1", 1]}},
            "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        }
        vae = ["1", 2]

    def drag(method: str) -> dict:
        return {"class_type": "SDEEditSDEDrag", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["3", 0], "points": ["6", 0],
            "t0": t0, "steps": steps, "step_size": 2.0, "r": r, "alpha": 1.1, "beta": 0.3, "cfg": cfg,
            "seed": seed, "method": method, "multi_point": "simultaneous", "scheduler": "simple",
            "precision": "float32", "vae": vae}}

    g = base | {
        "2": {"class_type": "LoadImage", "inputs": {"image": image}},
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
    if recolour:
        g["14"] = {"class_type": "SDEEditShapesPrompt", "inputs": {"text": recolour[1]}}
        g["15"] = {"class_type": "SDEEditCycleSDERecord", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "cfg": recolour_cfg,
            "cfg_schedule": "constant", "latent": ["3", 0], "t0": recolour_t0, "steps": steps, "seed": seed,
            "scheduler": "simple", "batch_size": 1, "independent_noise": False, "precision": "float32"}}
        g["16"] = {"class_type": "SDEEditResample", "inputs": {
            "model": ["1", 0], "positive": ["14", 0], "negative": ["5", 0], "cfg": recolour_cfg,
            "cfg_schedule": "constant", "latent": ["15", 0], "trajectory": ["15", 1], "method": "cycle_sde",
            "seed": seed}}
        g["17"] = {"class_type": "VAEDecode", "inputs": {"samples": ["16", 0], "vae": vae}}
        g["18"] = {"class_type": "SaveImage", "inputs": {"images": ["17", 0], "filename_prefix": "demo_recolour"}}
    return g


def side_by_side(panels: dict, order: list[tuple[str, str]], zoom: int, arrows: list | None = None):
    """The panels in a row, upscaled `zoom`× (nearest), each labelled; `arrows` [(x0, y0, x1, y1)] in input pixels
    are drawn on the first panel."""
    from PIL import Image, ImageDraw

    w, h = panels[order[0][0]].size
    pw, ph, label_h = w * zoom, h * zoom, 16
    out = Image.new("RGB", (pw * len(order), ph + label_h), "white")
    draw = ImageDraw.Draw(out)
    for k, (name, label) in enumerate(order):
        out.paste(panels[name].resize((pw, ph), Image.NEAREST), (k * pw, 0))
        draw.text((k * pw + 4, ph + 2), label, fill="black")
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
    ap.add_argument("--steps", type=int, default=None, help="steps below t0 (default 120; 40 on the shapes model)")
    ap.add_argument("--t0", type=float, default=0.6)
    ap.add_argument("--cfg", type=float, default=3.0, help="drag guidance scale at t0, linear down to 1 (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="the scene (shapes model) and the noise")
    args = ap.parse_args()

    from PIL import Image

    shapes = args.checkpoint is None
    steps = args.steps or (40 if shapes else 120)
    with tempfile.TemporaryDirectory(prefix="sde_edit_demo_") as tmp:
        with ComfyServer(pathlib.Path(tmp)) as server:
            image = server.dirs["input"] / "demo_input.png"
            if shapes:
                size, zoom = SHAPES_SIZE, ZOOM
                cx, cy, radius = shapes_scene(image, args.seed)
                # Drag the disc's centre 0.4 of the image to the right; the copied square covers the disc.
                points = [{"source": [cx * size, cy * size], "target": [(cx + 0.4) * size, cy * size]}]
                graph = drag_graph(image.name, points, steps, args.t0, args.cfg, args.seed,
                                   r=round(radius * size) + 2, recolour=("red disc", "blue disc"))
                what = f"the shapes model {SHAPES_WEIGHTS}"
            else:
                size, zoom = args.size, 1
                draw_input(image, size)
                points = [{"source": [size // 2, size // 2], "target": [size // 2 + size // 4, size // 2]}]
                graph = drag_graph(image.name, points, steps, args.t0, args.cfg, args.seed, ckpt=args.checkpoint)
                what = args.checkpoint
            print(f"ComfyUI is up at {server.url}; queueing SDE-Drag and ODE-Drag{' and a recolour' if shapes else ''} "
                  f"({what}, {size} px, {steps} steps below t0 {args.t0}, drag {points[0]['source']} -> "
                  f"{points[0]['target']})", flush=True)
            entry = server.run(graph, timeout=3600)
            panels = {meta["filename"].split("_")[1]: Image.open(io.BytesIO(png)).convert("RGB")
                      for meta, png in server.images(entry) if meta["type"] == "output"}
            panels["input"] = Image.open(image).convert("RGB")
    order = [("input", "input + drag"), ("sde", "SDE-Drag"), ("ode", "ODE-Drag")]
    if shapes:
        order.append(("recolour", "red -> blue disc (Cycle-SDE)"))
    arrows = [(*p["source"], *p["target"]) for p in points]
    side = side_by_side(panels, order, zoom, arrows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    side.save(args.out)
    single = args.out.with_name(args.out.stem + "_sde_drag.png")
    panels["sde"].save(single)
    print(f"wrote {args.out.resolve()} ({' | '.join(label for _, label in order)}) and the SDE-Drag result "
          f"{single.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
