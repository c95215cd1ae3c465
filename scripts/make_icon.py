"""Draw the pack's icon (docs/icon.png, 400 × 400) from the shapes world: a red disc on one of its gradients,
dragged right, the way the Drag Points editor shows a drag (red dot at the source, yellow shaft, blue head),
over a faint copy where the disc was. Rendered by shapes.world (no font, a fixed scene seed): the same
bytes on every run.

    python scripts/make_icon.py [--out docs/icon.png]
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from PIL import Image, ImageDraw

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from shapes import world  # noqa: E402

SIZE = 400
OUT = ROOT / "docs" / "icon.png"
SCENE_SEED, SOURCE, TARGET, RADIUS = 3, (0.3, 0.5), (0.7, 0.5), 0.17


def icon(size: int = SIZE) -> Image.Image:
    before = world.one_object_scene(SCENE_SEED, "red disc", *SOURCE, RADIUS)
    after = world.moved(before, 0, *TARGET)
    as_rgb = lambda t: (t[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # noqa: E731
    was = 0.35 * world.object_masks(before, size, ss=1)[:, :1]  # a faint disc where it was, a full one where it went
    ghost = world.render(after, size, ss=1) * (1 - was) + world.render(before, size, ss=1) * was
    img = Image.fromarray(as_rgb(ghost))
    draw = ImageDraw.Draw(img)
    (sx, sy), (tx, ty) = ((x * size, y * size) for x, y in (SOURCE, TARGET))
    lw, head = round(size / 25), size / 8
    draw.line([(sx, sy), (tx - head, ty)], fill=(255, 220, 0), width=lw)
    draw.polygon([(tx, ty), (tx - head, ty - head / 2), (tx - head, ty + head / 2)], fill=(40, 120, 255))
    r = size / 20
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(230, 40, 40), outline=(0, 0, 0), width=max(1, lw // 3))
    return img


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    args = ap.parse_args()
    icon().save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
