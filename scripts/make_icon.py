"""Draw the pack's icon (docs/icon.png, 400 × 400): a red disc dragged right along a yellow arrow, over its faded
copy at the source, on the shapes world's grey-blue. No font, no randomness: the same bytes on every run.

    python scripts/make_icon.py [--out docs/icon.png]
"""

from __future__ import annotations

import argparse
import pathlib

from PIL import Image, ImageDraw

SIZE = 400
OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "icon.png"


def icon(size: int = SIZE) -> Image.Image:
    s = size / 400
    img = Image.new("RGB", (size, size))
    top, bottom = (96, 112, 150), (150, 140, 170)
    for y in range(size):  # a vertical gradient
        t = y / (size - 1)
        img.paste(tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)), (0, y, size, y + 1))
    draw = ImageDraw.Draw(img, "RGBA")
    r = 70 * s
    (sx, sy), (tx, ty) = (120 * s, 200 * s), (285 * s, 200 * s)
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(230, 40, 40, 70))  # where the disc was
    draw.ellipse([tx - r, ty - r, tx + r, ty + r], fill=(230, 40, 40, 255))  # where it went
    draw.line([(sx, sy), (tx - 40 * s, ty)], fill=(255, 220, 0, 255), width=round(16 * s))
    draw.polygon([(tx + 5 * s, ty), (tx - 45 * s, ty - 30 * s), (tx - 45 * s, ty + 30 * s)], fill=(40, 120, 255, 255))
    draw.ellipse([sx - 18 * s, sy - 18 * s, sx + 18 * s, sy + 18 * s], fill=(230, 40, 40, 255),
                 outline=(0, 0, 0, 255), width=round(4 * s))
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
