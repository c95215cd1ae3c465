"""The main job: SDE-Drag through a real ComfyUI server, written as a side-by-side image.

Starts ComfyUI's own server (main.py) on 127.0.0.1, draws an input picture (a red disc on a
gradient), and queues one graph: SDE Edit Drag Points (the drag drawn as an arrow), SDE-Drag and
ODE-Drag of the same drag (ALGORITHMS.md §4). The results are fetched over HTTP (/view) and
written side by side: input with the arrow | SDE-Drag | ODE-Drag.

Usage: python scripts/demo.py [--checkpoint NAME_IN_models/checkpoints] [--out PATH]

With no checkpoint named it uses the tiny seeded checkpoint of the test host: its weights are
random, so the picture it writes is noise and shows only that the plumbing works.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hostlib import CHECKPOINTS, ROOT, ComfyServer  # noqa: E402


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


def drag_graph(image: str, ckpt: str, points: list, steps: int, t0: float, cfg: float, seed: int) -> dict:
    """SDE-Drag and ODE-Drag of the same drags, and the input with the drags drawn as arrows."""
    def drag(method: str) -> dict:
        return {"class_type": "SDEEditSDEDrag", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["3", 0], "points": ["6", 0],
            "t0": t0, "steps": steps, "step_size": 2.0, "r": 5, "alpha": 1.1, "beta": 0.3, "cfg": cfg,
            "seed": seed, "method": method, "multi_point": "simultaneous", "scheduler": "simple",
            "precision": "float32", "vae": ["1", 2]}}

    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "LoadImage", "inputs": {"image": image}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red disc on a smooth background",
                                                          "clip": ["1", 1]}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "6": {"class_type": "SDEEditDragPoints", "inputs": {"image": ["2", 0], "points": json.dumps(points)}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 1], "filename_prefix": "demo_arrows"}},
        "8": drag("sde"),
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 2]}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "demo_sde"}},
        "11": drag("ode"),
        "12": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": ["1", 2]}},
        "13": {"class_type": "SaveImage", "inputs": {"images": ["12", 0], "filename_prefix": "demo_ode"}},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="Run SDE-Drag and ODE-Drag through a real ComfyUI server.")
    ap.add_argument("--checkpoint", help="a checkpoint file in ComfyUI/models/checkpoints (default: the tiny one)")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "output" / "demo.png")
    ap.add_argument("--size", type=int, default=None, help="image side in px (default 512, 128 on the tiny one)")
    ap.add_argument("--steps", type=int, default=None, help="steps below t0 (default 120, 10 on the tiny one)")
    ap.add_argument("--t0", type=float, default=0.6)
    ap.add_argument("--cfg", type=float, default=None, help="guidance scale at t0, linear down to 1 (default 3)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    tiny = args.checkpoint is None
    ckpt = CHECKPOINTS["sd15"] if tiny else args.checkpoint
    size = args.size or (128 if tiny else 512)
    steps = args.steps or (10 if tiny else 120)
    cfg = args.cfg if args.cfg is not None else 3.0
    # Drag the disc's centre a quarter of the image to the right.
    points = [{"source": [size // 2, size // 2], "target": [size // 2 + size // 4, size // 2]}]

    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="sde_edit_demo_") as tmp:
        with ComfyServer(pathlib.Path(tmp)) as server:
            draw_input(server.dirs["input"] / "demo_input.png", size)
            print(f"ComfyUI is up at {server.url}; queueing SDE-Drag and ODE-Drag ({ckpt}, {size} px, {steps} steps "
                  f"below t0 {args.t0}, drag {points[0]['source']} -> {points[0]['target']})")
            entry = server.run(drag_graph("demo_input.png", ckpt, points, steps, args.t0, cfg, args.seed),
                               timeout=3600)
            panels = {meta["filename"].split("_")[1]: Image.open(io.BytesIO(png)).convert("RGB")
                      for meta, png in server.images(entry) if meta["type"] == "output"}
    order = [("arrows", "input + drag"), ("sde", "SDE-Drag"), ("ode", "ODE-Drag")]
    side = Image.new("RGB", (size * len(order), size), "white")
    for k, (name, _) in enumerate(order):
        side.paste(panels[name], (k * size, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    side.save(args.out)
    panels["sde"].save(args.out.with_name(args.out.stem + "_sde_drag.png"))
    print(f"wrote {args.out.resolve()} ({' | '.join(label for _, label in order)}) and the SDE-Drag result "
          f"{args.out.with_name(args.out.stem + '_sde_drag.png').resolve()}")
    if tiny:
        print("note: the tiny test checkpoint has random weights, so the edited half is meaningless (noise or "
              "flat); it shows the plumbing only. Name a real checkpoint with --checkpoint for a real edit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
