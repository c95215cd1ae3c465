"""SDE-Drag's edit: drag points, sub-steps and the copy-paste of Eq. 12 (ALGORITHMS.md §4).

Points are image pixels [x, y]; latent coordinates are floor(p / f), f the VAE's downscale factor
(8 for the SD and Flux families), indexing latent[:, :, y, x].

Copy-paste at x_t0 (Eq. 12, as the authors' code does it), for each pair (S, T) in list order:

    src   = x[S]                                  the square of half-extent r around the source
    x[S]  = β·src + sqrt(1 − β²)·z,  z ~ N(0, I)   the source area is partly re-noised
    x[T]  = α·src                                  the target gets the amplified copy

Each square is [p − r, p + r) on both axes (2r × 2r latent pixels). Near a border both squares
are clipped by the same amounts so their shapes match. (The authors clip against h − 1 and w − 1,
so their squares never reach the last row or column; we clip against h and w.)

Sub-steps (Algorithm 1): d = target − source in latent pixels, m ≈ max_k ‖d_k‖ / step, rounded to
the count whose step length is nearer `step` (m = 1 for a drag no longer than one step). Sub-step
i (0-based) moves every pair from source + trunc(i/m·d) to source + trunc((i+1)/m·d).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class DragPair:
    """One drag, source → target, in pixels of whatever grid it was given on."""

    source: tuple[int, int]
    target: tuple[int, int]

    def scaled_down(self, factor: int) -> DragPair:
        """The pair on a grid `factor` times coarser: floor(p / factor), as the authors map pixels to latents."""
        return DragPair(tuple(v // factor for v in self.source), tuple(v // factor for v in self.target))

    @property
    def displacement(self) -> tuple[int, int]:
        return self.target[0] - self.source[0], self.target[1] - self.source[1]


def _xy(p, what: str) -> tuple[float, float]:
    if isinstance(p, dict) and "x" in p and "y" in p:
        p = (p["x"], p["y"])
    if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)):
        raise ValueError(f"points: {what} must be [x, y] or {{\"x\": .., \"y\": ..}}, got {p!r}")
    if not all(math.isfinite(v) for v in p):
        raise ValueError(f"points: {what} has a non-finite coordinate: {p!r}")
    return float(p[0]), float(p[1])


def parse_points(text: str, width: int, height: int) -> list[DragPair]:
    """Drag pairs from JSON, checked against an image of `width` × `height` pixels.

    Two formats: pairs `[{"source": [x, y], "target": [x, y]}, ...]`, or the alternating list
    `[{"x": .., "y": ..}, ...]` (source, target, source, target, …) that KJNodes' PointsEditor emits.
    Invalid JSON, an odd count, a point outside the image or a zero-length drag raise a ValueError
    that says what to change.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"points: not valid JSON ({e}); give "
                         "[{\"source\": [x, y], \"target\": [x, y]}, ...]") from None
    if not isinstance(data, list) or not data:
        raise ValueError("points: give a non-empty list of drags, e.g. [{\"source\": [x, y], \"target\": [x, y]}]")
    if all(isinstance(p, dict) and "source" in p and "target" in p for p in data):
        raw = [(_xy(p["source"], f"source {k}"), _xy(p["target"], f"target {k}")) for k, p in enumerate(data)]
    else:
        pts = [_xy(p, f"point {k}") for k, p in enumerate(data)]
        if len(pts) % 2:
            raise ValueError(f"points: {len(pts)} points is an odd count; give them as source, target, source, "
                             "target, …")
        raw = list(zip(pts[0::2], pts[1::2], strict=True))
    pairs = []
    for k, (s, t) in enumerate(raw):
        for name, (x, y) in (("source", s), ("target", t)):
            if not (0 <= x < width and 0 <= y < height):
                raise ValueError(f"points: drag {k}'s {name} ({x:g}, {y:g}) lies outside the {width}×{height} image")
        pair = DragPair((int(s[0]), int(s[1])), (int(t[0]), int(t[1])))
        if pair.source == pair.target:
            raise ValueError(f"points: drag {k} has zero length (source = target = {pair.source}); remove it")
        pairs.append(pair)
    return pairs


def substep_count(pairs: list[DragPair], step: float) -> int:
    """m of Algorithm 1: the longest drag over `step`, rounded to the nearer step length (≥ 1)."""
    if step <= 0:
        raise ValueError(f"step size must be > 0 latent pixels, got {step}")
    longest = max(math.hypot(*p.displacement) for p in pairs)
    if longest <= step:
        return 1
    m = int(longest // step)
    return m + 1 if abs(longest / m - step) > abs(longest / (m + 1) - step) else m


def substep(pairs: list[DragPair], i: int, m: int) -> list[DragPair]:
    """The pairs of sub-step i of m: source + trunc(i/m·d) → source + trunc((i+1)/m·d)."""

    def at(p: DragPair, frac: float) -> tuple[int, int]:
        dx, dy = p.displacement
        return p.source[0] + int(frac * dx), p.source[1] + int(frac * dy)

    return [DragPair(at(p, i / m), at(p, (i + 1) / m)) for p in pairs]


def _squares(pair: DragPair, r: int, h: int, w: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """The source and target squares (rows, cols), clipped at the borders by shared amounts."""
    (sx, sy), (tx, ty) = pair.source, pair.target
    left, right = min(r, sx, tx), min(r, w - sx, w - tx)
    up, down = min(r, sy, ty), min(r, h - sy, h - ty)
    return ((slice(sy - up, sy + down), slice(sx - left, sx + right)),
            (slice(ty - up, ty + down), slice(tx - left, tx + right)))


def copy_paste(x: Tensor, pairs: list[DragPair], r: int, alpha: float, beta: float,
               generator: torch.Generator) -> Tensor:
    """Eq. 12 on a copy of x [B, C, h, w]: for each latent-pixel pair, re-noise S, paste α·x[S] at T."""
    if r < 1:
        raise ValueError(f"r (the square's half-extent) must be ≥ 1 latent pixel, got {r}")
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number (1.1 in the paper: the paste's strength), got {alpha}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1] (1 copies the source unchanged), got {beta}")
    out = x.clone()
    h, w = x.shape[-2:]
    for pair in pairs:
        for px, py in (pair.source, pair.target):
            if not (0 <= px < w and 0 <= py < h):
                raise ValueError(f"drag point ({px}, {py}) lies outside the {w}×{h} latent")
        (sr, sc), (tr, tc) = _squares(pair, r, h, w)
        src = out[..., sr, sc].clone()
        z = torch.randn(src.shape, generator=generator, dtype=torch.float32, device=generator.device).to(src)
        out[..., sr, sc] = beta * src + math.sqrt(1.0 - beta**2) * z
        out[..., tr, tc] = alpha * src
    return out
