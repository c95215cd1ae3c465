"""Draw the long soak's RSS curve (test-artifacts/soak.json, written by tests/server/test_soak.py) as a PNG.

PIL only, so it runs under any Python with Pillow (no matplotlib in the host venv's test path): the RSS after
every prompt, the median of each cycle of examples (what the bound compares), the warm-up line and the 5 %
bound above the warm-up RSS; cancelled prompts are marked. Usage:

    .host/venv/bin/python scripts/plot_soak.py [--soak test-artifacts/soak.json] [--out docs/soak_rss.png]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys

from PIL import Image, ImageDraw, ImageFont

ROOT = pathlib.Path(__file__).resolve().parent.parent
W, H = 1100, 560
LEFT, RIGHT, TOP, BOTTOM = 90, 30, 56, 70  # plot margins (px)
GREY, BLUE, ORANGE, RED, GREEN = (150, 150, 150), (40, 90, 200), (230, 130, 20), (200, 30, 30), (30, 140, 60)


def font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow ≥ 10.1 with FreeType
    except TypeError:
        return ImageFont.load_default()


def nice_step(span: float, ticks: int = 6) -> float:
    """A 1-2-5 tick step giving about `ticks` ticks over `span`."""
    raw = span / ticks
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    return next((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), 10 * mag)


def dashed(d: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], fill, width=2, dash=8) -> None:
    (x0, y0), (x1, y1) = a, b
    length = max(abs(x1 - x0), abs(y1 - y0))
    for s in range(0, int(length), 2 * dash):
        t0, t1 = s / length, min(s + dash, length) / length
        d.line([(x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0), (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)],
               fill=fill, width=width)


def plot(soak: dict, out: pathlib.Path) -> None:
    rss, summary = soak["rss_mb"], soak["rss"]
    n, cycle, warmup = len(rss), summary["cycle"], summary["warmup_prompts"]
    bound = summary["warmup_mb"] * (1 + summary["bound_pct"] / 100)
    medians = [(k + cycle, statistics.median(rss[k:k + cycle])) for k in range(0, n - cycle + 1, cycle)]
    step = nice_step(max(max(rss), bound) - min(rss))
    lo = step * int(min(rss) / step)
    hi = step * (int(max(max(rss), bound) / step) + 1)
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    small, normal = font(13), font(15)

    def xy(prompt: float, mb: float) -> tuple[float, float]:
        return (LEFT + (prompt - 1) / max(n - 1, 1) * (W - LEFT - RIGHT),
                H - BOTTOM - (mb - lo) / (hi - lo) * (H - TOP - BOTTOM))

    # axes, ticks and labels
    d.rectangle([LEFT, TOP, W - RIGHT, H - BOTTOM], outline="black")
    mb = lo
    while mb <= hi + 1e-9:
        y = xy(1, mb)[1]
        d.line([(LEFT - 5, y), (LEFT, y)], fill="black")
        d.line([(LEFT + 1, y), (W - RIGHT - 1, y)], fill=(235, 235, 235))
        d.text((LEFT - 8, y), f"{mb:.0f}", fill="black", font=small, anchor="rm")
        mb += step
    for p in range(0, n + 1, 50):
        x = xy(max(p, 1), lo)[0]
        d.line([(x, H - BOTTOM), (x, H - BOTTOM + 5)], fill="black")
        d.text((x, H - BOTTOM + 8), str(p), fill="black", font=small, anchor="mt")
    d.text((LEFT + (W - LEFT - RIGHT) / 2, H - 22), "prompt", fill="black", font=normal, anchor="mm")
    ylabel = Image.new("RGBA", (200, 24), (255, 255, 255, 0))  # the y label, drawn flat and turned upright
    ImageDraw.Draw(ylabel).text((100, 12), "server RSS (MB)", fill="black", font=normal, anchor="mm")
    ylabel = ylabel.rotate(90, expand=True)
    img.paste(ylabel, (8, int(TOP + (H - TOP - BOTTOM) / 2 - 100)), ylabel)
    d.text((LEFT, 18), f"Long soak: server RSS after each of {n} prompts (VmRSS; {soak.get('soak_seconds', '?')} s)",
           fill="black", font=font(17), anchor="lm")

    # warm-up line, warm-up RSS and the bound
    wx = xy(warmup, lo)[0]
    dashed(d, (wx, TOP), (wx, H - BOTTOM), GREEN)
    d.text((wx + 6, H - BOTTOM - 8), f"end of warm-up (prompt {warmup})", fill=GREEN, font=small, anchor="lb")
    dashed(d, xy(warmup, summary["warmup_mb"]), xy(n, summary["warmup_mb"]), GREY, width=1)
    dashed(d, xy(warmup, bound), xy(n, bound), RED)
    d.text((W - RIGHT - 6, xy(n, bound)[1] - 4),
           f"bound: warm-up RSS + {summary['bound_pct']:g} % = {bound:.0f} MB", fill=RED, font=small, anchor="rb")

    # the samples, the cycle medians, the cancels
    d.line([xy(i + 1, v) for i, v in enumerate(rss)], fill=(160, 185, 235), width=1)
    for i, v in enumerate(rss):
        x, y = xy(i + 1, v)
        d.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=BLUE)
    for c in soak.get("cancels", []):
        x, y = xy(c["prompt"] + 1, rss[c["prompt"]])
        d.ellipse([x - 3, y - 3, x + 3, y + 3], outline=ORANGE, width=2)
    d.line([xy(p, m) for p, m in medians], fill="black", width=3)

    # legend
    lx, ly = W - RIGHT - 446, H - BOTTOM - 90  # bottom right: below the dips of the evicted SD1.5 model
    d.rectangle([lx - 6, ly - 8, lx + 430, ly + 78], fill="white", outline=GREY)
    d.ellipse([lx, ly - 2, lx + 4, ly + 2], fill=BLUE)
    d.text((lx + 18, ly), "RSS after each prompt", fill="black", font=small, anchor="lm")
    d.line([(lx, ly + 20), (lx + 12, ly + 20)], fill="black", width=3)
    d.text((lx + 18, ly + 20), f"median of each cycle of {cycle} examples (what the bound compares)", fill="black",
           font=small, anchor="lm")
    d.ellipse([lx - 1, ly + 37, lx + 5, ly + 43], outline=ORANGE, width=2)
    d.text((lx + 18, ly + 40), "a cancelled prompt (POST /interrupt)", fill="black", font=small, anchor="lm")
    dashed(d, (lx, ly + 60), (lx + 14, ly + 60), GREY, width=1, dash=4)
    d.text((lx + 18, ly + 60), f"warm-up RSS: median of the cycle ending at prompt {warmup}", fill="black",
           font=small, anchor="lm")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soak", type=pathlib.Path, default=ROOT / "test-artifacts" / "soak.json")
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "soak_rss.png")
    args = ap.parse_args()
    soak = json.loads(args.soak.read_text())
    if not soak.get("rss"):
        print(f"{args.soak} holds no RSS summary (a soak cut short?)", file=sys.stderr)
        return 1
    plot(soak, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
