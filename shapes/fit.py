"""The best in-world scene for an image: the shapes benchmarks' realism metric (`fit_scene`).

An edited image is realistic when some scene of the world renders to it: a two-colour gradient and
one palette object, anywhere, of any size. `fit_scene` finds the nearest such scene and its residual
(mean |image − render(fit)|): about 0 for any rendered one-object scene, wherever the object is, and
clearly more for grain, ghosts or rings of an old object, seams, blur and noisy patches.

For a fixed geometry (angle, kind, cx, cy, r) the rendering is linear in the 9 colours: per channel,
pixel = bg0·pool((1 − m)(1 − w)) + bg1·pool((1 − m)·w) + rgb·pool(m), with m the object's hard mask
and w the gradient weight, both at 2× (`world.render`). All three channels share those three
basis images, so each candidate geometry costs one 3×3 least-squares solve; a batch of candidates is
solved at once. The geometry starts from the image (largest palette-coloured region for centre and
size, a plane fit of the rest for the angle), a coarse grid (both kinds, centre ±1.5 px, radius ±1 px)
picks the kind, and a pattern search refines centre, size and angle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import world

SS = 2  # supersampling of world.render
RIDGE = 1e-6  # keeps the normal equations solvable when a basis image is empty (object off the image)
SHIFTS = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)  # coarse grid (px) of the centre around the region's centroid
GROWS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # and of the radius around the region's area's
STEPS = ((0.5, 0.08), (0.25, 0.04), (0.125, 0.02), (0.0625, 0.01), (0.03125, 0.005))  # refine: (px, rad)


def _hi_grid(n: int) -> tuple[Tensor, Tensor]:
    c = (torch.arange(SS * n, dtype=torch.float32) + 0.5) / (SS * n)
    return c.view(1, 1, -1), c.view(1, -1, 1)  # x, y as [1, N, N]-broadcastable


def _weights(angle: Tensor, n: int) -> Tensor:
    """[B, N, N] gradient weight w at 2× for angles [B] (as world._background)."""
    x, y = _hi_grid(n)
    ux, uy = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    half = 0.5 * (ux.abs() + uy.abs())
    return (((x - 0.5) * ux + (y - 0.5) * uy) / (2 * half) + 0.5).clamp(0, 1)


def _masks(kind: Tensor, cx: Tensor, cy: Tensor, r: Tensor, n: int) -> Tensor:
    """[B, N, N] 0/1 hard masks at 2× (as world._hard_masks); all inputs [B], fractions of the side."""
    x, y = _hi_grid(n)
    dx, dy, r = x - cx.view(-1, 1, 1), y - cy.view(-1, 1, 1), r.view(-1, 1, 1)
    disc = dx * dx + dy * dy <= r * r
    square = (dx.abs() <= r) & (dy.abs() <= r)
    return torch.where(kind.view(-1, 1, 1) > 0.5, square, disc).float()


def _pool(t: Tensor, n: int) -> Tensor:
    """[B, N, N] at 2× → [B, n·n] averaged over 2×2 blocks (slices: faster than a strided mean)."""
    t = t[:, 0::2, 0::2] + t[:, 1::2, 0::2] + t[:, 0::2, 1::2] + t[:, 1::2, 1::2]
    return 0.25 * t.reshape(t.shape[0], n * n)


def _evaluate(g: dict[str, Tensor], target: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Colours [B, K, 3] (clamped to [0, 1]; rows bg0, bg1 and the object's rgb) and squared errors [B]
    of candidate geometries `g` (tensors [B]: angle, and kind, cx, cy, r unless there is no object)
    against `target` [3, P].

    The bases are pool((1 − m)(1 − w)) = 1 − pool(w) − pool(m) + pool(m·w), pool((1 − m)·w) = pool(w) −
    pool(m·w) and pool(m); pool(w) once per distinct angle. The squared error of the clamped colours x
    comes from the normal equations, |Ax − y|² = |y|² − 2·x·Aᵀy + x·AᵀAx, without rendering.
    """
    angles, inverse = torch.unique(g["angle"], return_inverse=True)
    w = _weights(angles, n)
    pw = _pool(w, n)[inverse]
    if "kind" not in g:  # no object: the gradient alone
        basis = torch.stack([1 - pw, pw], dim=1)
    else:
        m = _masks(g["kind"], g["cx"], g["cy"], g["r"], n)
        pm, pmw = _pool(m, n), _pool(m * w[inverse], n)
        basis = torch.stack([1 - pw - pm + pmw, pw - pmw, pm], dim=1)  # [B, K, P]
    gram = basis @ basis.transpose(1, 2) + RIDGE * torch.eye(basis.shape[1])
    rhs = basis @ target.T  # [B, K, 3]
    x = torch.linalg.solve(gram, rhs).clamp(0, 1)
    sse = (target * target).sum() - 2 * (x * rhs).sum(dim=(1, 2)) + (x * (gram @ x)).sum(dim=(1, 2))
    return x, sse


def _plane_angle(image: Tensor, where: Tensor) -> float:
    """Direction (radians) of the gradient of a least-squares plane per channel over pixels `where`.

    The world's gradient has one direction for all channels: the top eigenvector of the channels'
    stacked plane slopes. Its sign does not matter (the colour solve swaps bg0 and bg1).
    """
    n = image.shape[-1]
    ys, xs = torch.nonzero(where, as_tuple=True)
    if len(xs) < 3:
        return 0.0
    design = torch.stack([torch.ones(len(xs)), (xs.float() + 0.5) / n, (ys.float() + 0.5) / n], dim=1)
    coef = torch.linalg.lstsq(design, image[:, ys, xs].T).solution  # [3, channels]
    slopes = coef[1:]  # [2, channels]
    _, vecs = torch.linalg.eigh(slopes @ slopes.T)
    v = vecs[:, -1]
    return float(torch.atan2(v[1], v[0]))


def _largest_palette_region(image: Tensor) -> Tensor | None:
    from .metrics import components  # here: metrics imports this module

    hits = world.palette_pixels(image[None])[0]
    regions = [r for c in range(hits.shape[0]) for r in components(hits[c])[:1]]
    return max(regions, key=lambda r: int(r.sum())) if regions else None


def _pick(g: dict[str, Tensor], i: int) -> dict[str, Tensor]:
    return {k: v[i : i + 1] for k, v in g.items()}


def _refine(g: dict[str, Tensor], target: Tensor, n: int, steps: tuple[tuple[float, float], ...],
            best: float, rounds: int = 3) -> tuple[dict[str, Tensor], float]:
    """Pattern search from the single geometry `g`: each (px step, angle step) tries the 3^k neighbours."""
    names = [k for k in ("cx", "cy", "r", "angle") if k in g]
    for px, rad in steps:
        for _ in range(rounds):
            offsets = torch.cartesian_prod(*[torch.tensor([-1.0, 0.0, 1.0])] * len(names))
            offsets = offsets.view(-1, len(names))
            cand = {k: v.expand(len(offsets)).clone() for k, v in g.items()}
            for j, k in enumerate(names):
                cand[k] = cand[k] + offsets[:, j] * (rad if k == "angle" else px / n)
            if "r" in cand:
                cand["r"] = cand["r"].clamp(min=0.5 / n)
            _, res = _evaluate(cand, target, n)
            i = int(res.argmin())
            if float(res[i]) >= best:
                break
            g, best = _pick(cand, i), float(res[i])
    return g, best


def fit_scene(image: Tensor, size: int | None = None) -> tuple[world.Scene, float]:
    """The best in-world one-object scene for `image` [3, H, W] in [0, 1], and its realism residual.

    The residual is the mean over pixels and channels of |image − render(fit)| at `size` (default: the
    image's width; another size resamples the image first). Zero objects only when no pixel is on the
    palette (the gradient alone is fitted then). Colours are clamped to [0, 1]; the shape's colour index
    is the palette colour nearest its fitted RGB.
    """
    image = image.detach().float().cpu()
    n = int(size or image.shape[-1])
    if tuple(image.shape[-2:]) != (n, n):
        mode = "area" if n < image.shape[-1] else "bilinear"
        image = F.interpolate(image[None], size=(n, n), mode=mode, **({} if mode == "area" else
                                                                        {"align_corners": False}))[0]
    target = image.reshape(3, n * n)
    region = _largest_palette_region(image)
    outside = torch.ones(n, n, dtype=torch.bool)
    if region is not None:
        outside = ~(F.max_pool2d(region.float()[None, None], 5, 1, 2)[0, 0] > 0.5)  # 2 px clear of it
    angle0 = _plane_angle(image, outside if int(outside.sum()) >= 0.2 * n * n else torch.ones_like(outside))

    if region is None:  # nothing on the palette: the gradient alone
        g = {"angle": torch.tensor([angle0])}
    else:
        ys, xs = torch.nonzero(region, as_tuple=True)
        cx0, cy0, area = float(xs.float().mean()) + 0.5, float(ys.float().mean()) + 0.5, float(len(xs))
        grid = torch.cartesian_prod(torch.tensor([0.0, 1.0]), torch.tensor(SHIFTS), torch.tensor(SHIFTS),
                                    torch.tensor(GROWS))  # kind, dx, dy, dr (px)
        r0 = torch.where(grid[:, 0] > 0.5, math.sqrt(area) / 2, math.sqrt(area / math.pi))  # square, disc
        g = {"kind": grid[:, 0], "cx": (cx0 + grid[:, 1]) / n, "cy": (cy0 + grid[:, 2]) / n,
             "r": (r0 + grid[:, 3]).clamp(min=0.5) / n, "angle": torch.full((len(grid),), angle0)}
    _, sse = _evaluate(g, target, n)
    i = int(sse.argmin())
    g, _ = _refine(_pick(g, i), target, n, STEPS, float(sse[i]))
    c = _evaluate(g, target, n)[0][0].tolist()  # rows: bg0, bg1 (and the object's rgb)
    shapes = ()
    if region is not None:
        colour = int((torch.tensor(world.PALETTE) - torch.tensor(c[2])).norm(dim=1).argmin())
        shapes = (world.Shape(int(g["kind"][0] > 0.5), colour, tuple(c[2]), float(g["cx"][0]), float(g["cy"][0]),
                              float(g["r"][0])),)
    fit = world.Scene(tuple(c[0]), tuple(c[1]), float(g["angle"][0]), shapes)
    return fit, float((image - world.render(fit, n)[0]).abs().mean())
