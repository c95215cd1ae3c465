"""SDE-Drag's edit: drag points, sub-steps and the copy-paste of Eq. 12 (docs/design.md §4).

Points are image pixels [x, y]; latent coordinates are floor(p / f), f the VAE's downscale factor
(8 for the SD and Flux families), indexing latent[:, :, y, x].

Copy-paste at x_t0 (Eq. 12, as the authors' code does it), for each pair (S, T) in list order:

    src   = x[S]                                  the square of half-extent r around the source
    x[S]  = β·src + sqrt(1 − β²)·std·z             the source area is partly re-noised, z ~ N(0, I)
    x[T]  = α·src                                  the target gets the amplified copy

`std` = sqrt(a² + s²) at σ_0 is the latent's own scale there (1 for the authors' VP latents; sqrt(1 + σ²)
in the VE coordinates of ComfyUI's EPS / V samplers; sqrt((1 − σ)² + σ²) on flow), so the re-noised
square has the marginal variance of x_t0 on every model family.

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

from . import streams
from .samplers import Callback, Denoiser, ddim_invert, forward_trajectory, gaussian_noise, sample, sample_coupled
from .schedule import marginal_std


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
    if any(isinstance(p, dict) and ("source" in p or "target" in p) for p in data):
        for k, p in enumerate(data):
            missing = [key for key in ("source", "target") if not (isinstance(p, dict) and key in p)]
            if missing:
                raise ValueError(f"points: drag {k} has no {' and no '.join(missing)}: give every drag as "
                                 "{\"source\": [x, y], \"target\": [x, y]}")
        raw = [(_xy(p["source"], f"drag {k}'s source"), _xy(p["target"], f"drag {k}'s target"))
               for k, p in enumerate(data)]
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
               generator: torch.Generator, std: float | Tensor) -> Tensor:
    """Eq. 12 on a copy of x [B, C, h, w]: for each latent-pixel pair, re-noise S, paste α·x[S] at T.

    `std` is the latent's own standard deviation at its level (`schedule.marginal_std(σ_0, path)`): the
    fresh noise is std·z, so the re-noised square keeps the marginal variance of x there, as the
    authors' unit-variance noise does on their unit-variance (VP) latents.
    """
    if r < 1:
        raise ValueError(f"r (the square's half-extent) must be ≥ 1 latent pixel, got {r}")
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number (1.1 in the paper: the paste's strength), got {alpha}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1] (1 copies the source unchanged), got {beta}")
    std = float(std)
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"the paste noise's std must be a number ≥ 0, got {std}")
    out = x.clone()
    h, w = x.shape[-2:]
    for pair in pairs:
        for px, py in (pair.source, pair.target):
            if not (0 <= px < w and 0 <= py < h):
                raise ValueError(f"drag point ({px}, {py}) lies outside the {w}×{h} latent")
        (sr, sc), (tr, tc) = _squares(pair, r, h, w)
        src = out[..., sr, sc].clone()
        z = torch.randn(src.shape, generator=generator, dtype=torch.float32, device=generator.device).to(src)
        out[..., sr, sc] = beta * src + math.sqrt(1.0 - beta**2) * std * z
        out[..., tr, tc] = alpha * src
    return out


def edited_region(pairs: list[DragPair], r: int, h: int, w: int, vacated: bool = False) -> Tensor:
    """[1, 1, h, w] 0/1: the union S ∪ T of every pair's two squares (what `copy_paste` writes), or with
    `vacated` the part of the sources no target covers, ∪S ∖ ∪T (where the object leaves)."""
    sources, targets = torch.zeros(1, 1, h, w), torch.zeros(1, 1, h, w)
    for pair in pairs:
        (sr, sc), (tr, tc) = _squares(pair, r, h, w)
        sources[..., sr, sc] = 1.0
        targets[..., tr, tc] = 1.0
    return sources * (1 - targets) if vacated else torch.maximum(sources, targets)


def _residual_hook(square_noise: str, pairs: list[DragPair], r: int, like: Tensor, generator: torch.Generator):
    """The `residual` edit of `sample_coupled` for a square_noise option (None: the recorded residual)."""
    if square_noise == "recorded":
        return None
    if square_noise == "moved":
        return lambda i, res, tau: copy_paste(res, pairs, r, 1.0, 0.0, generator, float(tau))
    h, w = like.shape[-2:]
    region = edited_region(pairs, r, h, w, vacated=square_noise == "fresh_vacated").to(like)
    noise = gaussian_noise(like, generator)
    return lambda i, res, tau: region * tau * noise(tau, tau) + (1 - region) * res


# --- Algorithm 1 --------------------------------------------------------------------------------------

DRAG_METHODS = ("sde", "ode")
SQUARE_NOISES = ("recorded", "fresh", "fresh_vacated", "moved")
MULTI_POINT = ("simultaneous", "sequential")


def plan_length(pairs: list[DragPair], step: float, multi_point: str = "simultaneous") -> int:
    """len(drag_plan(...)), without building it (to bound a prompt's cost before any work)."""
    if multi_point not in MULTI_POINT:
        raise ValueError(f"multi_point {multi_point!r} is not one of {', '.join(MULTI_POINT)}")
    groups = [pairs] if multi_point == "simultaneous" else [[p] for p in pairs]
    return sum(substep_count(g, step) for g in groups)


def drag_plan(pairs: list[DragPair], step: float, multi_point: str = "simultaneous") -> list[list[DragPair]]:
    """The sub-steps of Algorithm 1: all drags together ("simultaneous", the paper) or one after another."""
    if multi_point not in MULTI_POINT:
        raise ValueError(f"multi_point {multi_point!r} is not one of {', '.join(MULTI_POINT)}")
    groups = [pairs] if multi_point == "simultaneous" else [[p] for p in pairs]
    return [substep(g, i, m) for g in groups for m in [substep_count(g, step)] for i in range(m)]


def drag_steps(plan: list[list[DragPair]], steps: int, method: str) -> int:
    """Steps of `sde_drag` (its progress): n per sub-step for SDE-Drag (recording fused), 2n for ODE-Drag."""
    return len(plan) * steps * (1 if method == "sde" else 2)


def drag_calls(plan: list[list[DragPair]], sigmas: Tensor, method: str) -> int:
    """Model calls of `sde_drag`: n per sub-step for SDE-Drag; 2n for ODE-Drag, less the inversion step that
    starts at σ = 0 (x̂0 is the state there) on a grid that ends at 0."""
    n = sigmas.numel() - 1
    if method == "sde":
        return len(plan) * n
    return len(plan) * (2 * n - int(float(sigmas[-1]) == 0.0))


def sde_drag(
    denoise: Denoiser,
    x0: Tensor,
    plan: list[list[DragPair]],
    sigmas: Tensor,
    path: str,
    scales: Tensor | float,
    seed: int,
    *,
    r: int,
    alpha: float,
    beta: float,
    method: str = "sde",
    square_noise: str = "recorded",
    mask: Tensor | None = None,
    dtype: torch.dtype | None = None,
    callback: Callback | None = None,
) -> Tensor:
    """Algorithm 1 (SDE-Drag), or its ODE baseline: the latent x0 dragged along `plan`, in x0's dtype.

    Sub-step k (pairs `plan[k]`, latent pixels) starts from the previous sub-step's output and makes a
    full cycle on the grid `sigmas` (σ_0 at t0 down to σ_n):

        sde   forward trajectory from the current latent (Eq. 7, stream "forward", k), copy-paste at
              x_t0 (Eq. 12, stream "paste", k), then Cycle-SDE back down with the recording fused into
              the sampling calls (`sample_coupled`: one call of [x_i ; y_i] a step)
        ode   DDIM inversion, the same copy-paste, DDIM back down (ODE-Drag: 2n calls)

    `square_noise` (sde only): "recorded" replays the recorded residual everywhere (the paper);
    "fresh" draws fresh DDPM noise (stream "fresh", k) inside the edited squares S ∪ T of the
    sub-step, so the residual that carries the source image's unpredicted detail (its old edges) is
    not replayed where the object moves; outside them Cycle-SDE still reconstructs exactly.
    "fresh_vacated": fresh noise only where the object leaves (S ∖ T), the recorded residual elsewhere.
    "moved": the recorded residual is dragged with the latent at every step (Eq. 12 on the residual with
    α = 1, β = 0: T gets S's residual, S ∖ T fresh noise τ_i·w), so the object's detail travels with it.
    Randomness: `streams.generator(seed, name, k)`. `callback(j, x, x̂0)` counts the steps over the
    whole edit, j < drag_steps(plan, n, method). `mask` (white = editable) blends at every output level.
    """
    if method not in DRAG_METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(DRAG_METHODS)}")
    if square_noise not in SQUARE_NOISES:
        raise ValueError(f"square_noise {square_noise!r} is not one of {', '.join(SQUARE_NOISES)}")
    if not plan:
        raise ValueError("the drag plan is empty: give at least one drag")
    std = marginal_std(sigmas[0].detach().cpu(), path)
    n = sigmas.numel() - 1
    h, w = x0.shape[-2:]
    state = x0
    for k, pairs in enumerate(plan):
        base = k * n * (1 if method == "sde" else 2)

        def report(i, x, x0_hat, base=base):
            if callback is not None:
                callback(base + i, x, x0_hat)

        if method == "sde":
            forward = forward_trajectory(state, sigmas, path, streams.generator(seed, "forward", k), dtype=dtype)
            edited = copy_paste(forward.latents[0], pairs, r, alpha, beta, streams.generator(seed, "paste", k), std)
            hook = _residual_hook(square_noise, pairs, r, edited, streams.generator(seed, "fresh", k))
            state = sample_coupled(denoise, edited, forward, scales, mask=mask, residual=hook, callback=report)
        else:
            inverted = ddim_invert(denoise, state, sigmas, path, scales, dtype=dtype, callback=report)
            edited = copy_paste(inverted.latents[0], pairs, r, alpha, beta, streams.generator(seed, "paste", k), std)
            state = sample(denoise, edited, inverted, "ddim", scales, mask=mask,
                           callback=lambda i, x, x0_hat, b=base + n: report(i, x, x0_hat, b))
    return state.to(x0.dtype)
