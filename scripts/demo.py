"""The main job: run a real graph of this pack through a real ComfyUI server and write the image.

Starts ComfyUI's own server (main.py) on 127.0.0.1, draws an input picture, and queues a
Cycle-SDE prompt-change edit (ALGORITHMS.md §2–3): record the picture's noise with the source
prompt, replay it with the target prompt. The result is fetched over HTTP (/view) and written,
beside the input, as a side-by-side PNG.

Usage: python scripts/demo.py [--checkpoint NAME_IN_models/checkpoints] [--out PATH]

With no checkpoint named it uses the tiny seeded checkpoint of the test host: its weights are
random, so the picture it writes is noise and shows only that the plumbing works.
"""

from __future__ import annotations

import argparse
import io
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


def edit_graph(image: str, ckpt: str, steps: int, t0: float, cfg: float, seed: int) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "LoadImage", "inputs": {"image": image}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red disc", "clip": ["1", 1]}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "a blue disc", "clip": ["1", 1]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "7": {"class_type": "SDEEditCycleSDERecord", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["6", 0], "latent": ["3", 0],
            "cfg": cfg, "cfg_schedule": "constant", "t0": t0, "steps": steps, "seed": seed,
            "scheduler": "simple", "batch_size": 0, "independent_noise": False, "precision": "float32"}},
        "8": {"class_type": "SDEEditResample", "inputs": {
            "model": ["1", 0], "positive": ["5", 0], "negative": ["6", 0], "latent": ["7", 0],
            "trajectory": ["7", 1], "method": "cycle_sde", "cfg": cfg, "cfg_schedule": "constant",
            "seed": seed, "precision": "float32"}},
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 2]}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "sde_edit_demo"}},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="Run a Cycle-SDE prompt-change edit through a real ComfyUI server.")
    ap.add_argument("--checkpoint", help="a checkpoint file in ComfyUI/models/checkpoints (default: the tiny one)")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "output" / "demo.png")
    ap.add_argument("--size", type=int, default=None, help="image side in px (default 512, 128 on the tiny one)")
    ap.add_argument("--steps", type=int, default=None, help="steps below t0 (default 50, 10 on the tiny one)")
    ap.add_argument("--t0", type=float, default=0.6)
    ap.add_argument("--cfg", type=float, default=None, help="guidance scale (default 5, 2 on the tiny one)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    tiny = args.checkpoint is None
    ckpt = CHECKPOINTS["sd15"] if tiny else args.checkpoint
    size = args.size or (128 if tiny else 512)
    steps = args.steps or (10 if tiny else 50)
    cfg = args.cfg if args.cfg is not None else (2.0 if tiny else 5.0)

    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="sde_edit_demo_") as tmp:
        with ComfyServer(pathlib.Path(tmp)) as server:
            draw_input(server.dirs["input"] / "demo_input.png", size)
            print(f"ComfyUI is up at {server.url}; queueing the edit ({ckpt}, {size} px, {steps} steps, t0 {args.t0})")
            entry = server.run(edit_graph("demo_input.png", ckpt, steps, args.t0, cfg, args.seed), timeout=1800)
            (_, png), = server.images(entry)
            before = Image.open(server.dirs["input"] / "demo_input.png").convert("RGB")
            after = Image.open(io.BytesIO(png)).convert("RGB")
    side = Image.new("RGB", (before.width + after.width, max(before.height, after.height)), "white")
    side.paste(before, (0, 0))
    side.paste(after, (before.width, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    side.save(args.out)
    print(f"wrote {args.out.resolve()} (input | Cycle-SDE edit 'a red disc' -> 'a blue disc')")
    if tiny:
        print("note: the tiny test checkpoint has random weights, so the edited half is meaningless (noise or "
              "flat); it shows the plumbing only. Name a real checkpoint with --checkpoint for a real edit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
