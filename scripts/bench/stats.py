"""Statistics and pictures the benchmark reports share: percentile-bootstrap intervals over scenes, paired
differences, table formatting, image grids. Plain numpy (and PIL for the grids)."""

from __future__ import annotations

import math
import pathlib

import numpy as np


def save_grid(rows: list[list], path: pathlib.Path, zoom: int = 4) -> None:
    """Images [3, H, W] in [0, 1], one list per grid row, upscaled `zoom`× (nearest), 2 px white gaps."""
    from PIL import Image

    h = rows[0][0].shape[-1] * zoom
    cols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (cols * (h + 2), len(rows) * (h + 2)), "white")
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            a = (img.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype("uint8")
            canvas.paste(Image.fromarray(a).resize((h, h), Image.NEAREST), (j * (h + 2), i * (h + 2)))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


# ----------------------------------------------------------------------------------------------- report

def bootstrap(values, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 2.5 %, 97.5 %) of the mean over scenes, by a percentile bootstrap; nan-free values only."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (n, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def paired(rows: list[dict], a: str, b: str, key: str, **match) -> tuple[float, float, float, int]:
    """Bootstrap of the per-scene difference a − b of `key` (scenes where both are defined), and their count."""
    def by_scene(method):
        return {r["scene"]: r[key] for r in rows
                if r["method"] == method and all(r.get(k) == v for k, v in match.items())}
    ra, rb = by_scene(a), by_scene(b)
    diffs = [ra[s] - rb[s] for s in ra if s in rb and not (math.isnan(ra[s]) or math.isnan(rb[s]))]
    return (*bootstrap(diffs), len(diffs))


def fmt(ci: tuple, digits: int = 2, pct: bool = False) -> str:
    m, lo, hi = ci[:3]
    if math.isnan(m):
        return "–"
    f = (lambda x: f"{100 * x:.0f}") if pct else (lambda x: f"{x:.{digits}f}")
    return f"{f(m)} [{f(lo)}, {f(hi)}]"


def yerr(stats) -> list[list[float]]:
    """Error bars (below, above the mean) of bootstrap triples."""
    return [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]
