"""The shapes world: seeded procedural scenes with a known right answer for every edit (docs/design.md §8).

A scene is a smooth two-colour linear gradient (muted colours) with discs and squares of a
4-colour palette drawn on it, later objects over earlier ones. Scenes are plain parameters
(`Scene`, `Shape`), so an edit (`moved`, `recoloured`, `reshaped`) is a new scene and its
rendering is the exact edited image: where a moved object was, the gradient comes back.

Rendering draws at `ss`× the size with hard edges and average-pools (anti-aliased edges).
Images are [B, 3, H, W] in [0, 1] (ComfyUI's IMAGE range, channels first); the models train
on `2·x − 1` ∈ [−1, 1], which is what the pixel-space VAE hands them. Coordinates are
fractions of the side, x to the right, y down; a square's `r` is its half side.

Classes of the conditional model: `class_index(kind, colour) = 4·kind + colour` (8 classes),
`NULL_CLASS = 8` for classifier-free guidance.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

KINDS = ("disc", "square")
COLOURS = ("red", "green", "blue", "yellow")
PALETTE = ((0.85, 0.15, 0.15), (0.15, 0.70, 0.20), (0.15, 0.30, 0.85), (0.90, 0.80, 0.15))
N_CLASSES = len(KINDS) * len(COLOURS)
NULL_CLASS = N_CLASSES


@dataclass(frozen=True)
class Shape:
    """One object: kind index (KINDS), colour index (COLOURS), its jittered RGB, centre and size."""

    kind: int
    colour: int
    rgb: tuple[float, float, float]
    cx: float
    cy: float
    r: float


@dataclass(frozen=True)
class Scene:
    """Background gradient from `bg0` to `bg1` along the direction `angle` (radians), then `shapes` in order."""

    bg0: tuple[float, float, float]
    bg1: tuple[float, float, float]
    angle: float
    shapes: tuple[Shape, ...]


def class_index(kind: int | str, colour: int | str) -> int:
    """The conditional model's class of a (kind, colour), by index or name."""
    k = KINDS.index(kind) if isinstance(kind, str) else int(kind)
    c = COLOURS.index(colour) if isinstance(colour, str) else int(colour)
    return len(COLOURS) * k + c


def parse_prompt(text: str) -> int:
    """Class of a prompt such as "red disc", "Blue Square" or "" (the null class); ValueError otherwise."""
    words = text.lower().replace(",", " ").split()
    if not words:
        return NULL_CLASS
    kinds = [w for w in words if w.rstrip("s") in KINDS or w in ("circle", "circles")]
    colours = [w for w in words if w in COLOURS]
    rest = [w for w in words if w not in kinds and w not in colours and w not in ("a", "an", "one", "the")]
    if len(kinds) != 1 or len(colours) != 1 or rest:
        said = repr(text) if len(text) <= 60 else f"{text[:60]!r}… ({len(text):,} characters)"
        raise ValueError(f"text: prompt {said} not understood: write a colour ({', '.join(COLOURS)}) and a kind "
                         f"({', '.join(KINDS)}), e.g. 'red disc', or leave it empty for the unconditional class")
    kind = "disc" if kinds[0].startswith("circle") else kinds[0].rstrip("s")
    return class_index(kind, colours[0])


def _muted(rng: np.random.Generator) -> tuple[float, float, float]:
    c = rng.uniform(0.25, 0.75, 3)
    return tuple(float(v) for v in 0.5 * c + 0.5 * c.mean())  # halfway to grey: objects stand out


def _shape(rng: np.random.Generator, kind: int, colour: int, r_range: tuple[float, float], jitter: float) -> Shape:
    r = float(rng.uniform(*r_range))
    cx, cy = (float(v) for v in rng.uniform(r, 1 - r, 2))
    rgb = np.clip(np.array(PALETTE[colour]) + rng.uniform(-jitter, jitter, 3), 0, 1)
    return Shape(kind, colour, tuple(float(v) for v in rgb), cx, cy, r)


def random_scene(rng: np.random.Generator, n_shapes: int | tuple[int, int] = (1, 3), kind: int | None = None,
                 colour: int | None = None, r_range: tuple[float, float] = (0.12, 0.22),
                 jitter: float = 0.05) -> Scene:
    """A random scene: `n_shapes` objects (or a count drawn from the inclusive range); `kind` / `colour` fix all."""
    n = n_shapes if isinstance(n_shapes, int) else int(rng.integers(n_shapes[0], n_shapes[1] + 1))
    bg0, bg1 = _muted(rng), _muted(rng)
    angle = float(rng.uniform(0, 2 * math.pi))
    shapes = tuple(
        _shape(rng, int(rng.integers(len(KINDS))) if kind is None else kind,
               int(rng.integers(len(COLOURS))) if colour is None else colour, r_range, jitter)
        for _ in range(n)
    )
    return Scene(bg0, bg1, angle, shapes)


def random_scenes(seed: int, count: int, **kw) -> list[Scene]:
    """`count` scenes drawn from `seed` (same seed, same scenes); keywords as in `random_scene`."""
    rng = np.random.default_rng(seed)
    return [random_scene(rng, **kw) for _ in range(count)]


def class_scenes(seed: int, classes: list[int], **kw) -> list[Scene]:
    """One single-object scene per class index in `classes` (the conditional model's data)."""
    rng = np.random.default_rng(seed)
    return [random_scene(rng, 1, kind=c // len(COLOURS), colour=c % len(COLOURS), **kw) for c in classes]


def one_object_scene(seed: int, text: str, cx: float, cy: float, r: float) -> Scene:
    """The scene of the Shapes Scene node: one object of class `text` ("red disc") with centre (cx, cy) and
    size r (fractions of the side), on the background (gradient, colour jitter) drawn from `seed`."""
    label = parse_prompt(text)
    if label == NULL_CLASS:
        raise ValueError("text: name the object, e.g. 'red disc' (the empty prompt is the null class)")
    if not (0 < r < 0.5 and r <= cx <= 1 - r and r <= cy <= 1 - r):
        raise ValueError(f"x, y, radius: the object (centre {cx:g}, {cy:g}, radius {r:g}) must lie inside the "
                         "image: keep radius ≤ x ≤ 1 − radius and radius ≤ y ≤ 1 − radius")
    rng = np.random.default_rng(seed)
    scene = random_scene(rng, 1, kind=label // len(COLOURS), colour=label % len(COLOURS), r_range=(r, r))
    return moved(scene, 0, cx, cy)


# Edits: each returns a new scene; rendering it is the edit's right answer.

def moved(scene: Scene, i: int, cx: float, cy: float) -> Scene:
    """`scene` with object `i` centred at (cx, cy)."""
    return _replace(scene, i, cx=float(cx), cy=float(cy))


def recoloured(scene: Scene, i: int, colour: int | str) -> Scene:
    """`scene` with object `i` in palette colour `colour` (exact palette RGB, no jitter)."""
    c = COLOURS.index(colour) if isinstance(colour, str) else int(colour)
    return _replace(scene, i, colour=c, rgb=PALETTE[c])


def reshaped(scene: Scene, i: int, kind: int | str) -> Scene:
    """`scene` with object `i` drawn as `kind` (same centre, colour and size)."""
    return _replace(scene, i, kind=KINDS.index(kind) if isinstance(kind, str) else int(kind))


def _replace(scene: Scene, i: int, **changes) -> Scene:
    shapes = list(scene.shapes)
    shapes[i] = dataclasses.replace(shapes[i], **changes)
    return dataclasses.replace(scene, shapes=tuple(shapes))


# Rendering, vectorised over scenes and objects.

def _grid(n: int) -> tuple[Tensor, Tensor]:
    c = (torch.arange(n, dtype=torch.float32) + 0.5) / n  # pixel centres
    return c.view(1, 1, 1, n), c.view(1, 1, n, 1)  # x, y as [1, 1, H, W]-broadcastable


def _params(scenes: list[Scene]) -> dict[str, Tensor]:
    k = max([len(s.shapes) for s in scenes] + [1])
    p = {name: torch.zeros(len(scenes), k) for name in ("kind", "cx", "cy", "r", "present")}
    p["rgb"] = torch.zeros(len(scenes), k, 3)
    for b, s in enumerate(scenes):
        for j, o in enumerate(s.shapes):
            for name in ("kind", "cx", "cy", "r"):
                p[name][b, j] = getattr(o, name)
            p["present"][b, j] = 1.0
            p["rgb"][b, j] = torch.tensor(o.rgb)
    p["bg0"] = torch.tensor([s.bg0 for s in scenes], dtype=torch.float32)
    p["bg1"] = torch.tensor([s.bg1 for s in scenes], dtype=torch.float32)
    p["angle"] = torch.tensor([s.angle for s in scenes], dtype=torch.float32)
    return p


def _hard_masks(p: dict[str, Tensor], n: int) -> Tensor:
    """[B, K, n, n] 0/1 shape masks (each object's own silhouette, occlusion ignored)."""
    x, y = _grid(n)
    dx, dy = x - p["cx"][..., None, None], y - p["cy"][..., None, None]
    r = p["r"][..., None, None]
    disc = dx * dx + dy * dy <= r * r
    square = (dx.abs() <= r) & (dy.abs() <= r)
    inside = torch.where(p["kind"][..., None, None] > 0.5, square, disc)
    return inside.float() * p["present"][..., None, None]


def _background(p: dict[str, Tensor], n: int) -> Tensor:
    """[B, 3, n, n] gradient: bg0 at one edge, bg1 at the opposite one along `angle`."""
    x, y = _grid(n)
    ux, uy = torch.cos(p["angle"]).view(-1, 1, 1, 1), torch.sin(p["angle"]).view(-1, 1, 1, 1)
    half = 0.5 * (ux.abs() + uy.abs())  # projection of the unit square's half diagonal
    w = (((x - 0.5) * ux + (y - 0.5) * uy) / (2 * half) + 0.5).clamp(0, 1)
    return p["bg0"][..., None, None] * (1 - w) + p["bg1"][..., None, None] * w


def render(scenes: Scene | list[Scene], size: int = 32, ss: int = 2) -> Tensor:
    """[B, 3, size, size] images in [0, 1] of `scenes`, drawn at `ss`× and average-pooled."""
    scenes = [scenes] if isinstance(scenes, Scene) else scenes
    p, n = _params(scenes), size * ss
    img = _background(p, n)
    masks = _hard_masks(p, n)
    for j in range(masks.shape[1]):
        m = masks[:, j : j + 1]
        img = img * (1 - m) + p["rgb"][:, j, :, None, None] * m
    return F.avg_pool2d(img, ss) if ss > 1 else img


def render_background(scenes: Scene | list[Scene], size: int = 32, ss: int = 2) -> Tensor:
    """[B, 3, size, size] of the scenes' gradients alone (no objects)."""
    scenes = [scenes] if isinstance(scenes, Scene) else scenes
    img = _background(_params(scenes), size * ss)
    return F.avg_pool2d(img, ss) if ss > 1 else img


def object_masks(scenes: Scene | list[Scene], size: int = 32, ss: int = 2, visible: bool = True) -> Tensor:
    """[B, K, size, size] per-object coverage in [0, 1] (K = most objects in a scene; absent ones are 0).

    `visible`: the part not hidden by later objects (what the pixels show); else the whole silhouette.
    """
    scenes = [scenes] if isinstance(scenes, Scene) else scenes
    masks = _hard_masks(_params(scenes), size * ss)
    if visible:
        above = torch.zeros_like(masks[:, :1])
        out = torch.zeros_like(masks)
        for j in reversed(range(masks.shape[1])):
            out[:, j : j + 1] = masks[:, j : j + 1] * (1 - above)
            above = torch.maximum(above, masks[:, j : j + 1])
        masks = out
    return F.avg_pool2d(masks, ss) if ss > 1 else masks


# Statistics of images [B, 3, H, W] in [0, 1]: is a sample in the world, and what does it show?

def smooth_share(images: Tensor, tol: float = 0.03) -> Tensor:
    """[B] share of pixels whose 3×3 neighbourhood is a plane (flat colour or linear gradient) up to `tol`.

    Per channel, the RMS residual of the least-squares plane a + b·i + c·j over the window; a pixel
    counts when every channel's is below `tol`. Gradients and object interiors pass, edges and noise
    fail (a residual noise of std ≲ 0.02 still passes). The world scores about 0.75–0.9.
    """
    b, c, h, w = images.shape
    win = F.unfold(images.reshape(b * c, 1, h, w), 3).view(b, c, 9, -1)  # rows of the window, i (down) and j
    i = torch.tensor([-1.0, -1, -1, 0, 0, 0, 1, 1, 1], dtype=images.dtype, device=images.device).view(1, 1, 9, 1)
    j = torch.tensor([-1.0, 0, 1, -1, 0, 1, -1, 0, 1], dtype=images.dtype, device=images.device).view(1, 1, 9, 1)
    mean, gi, gj = win.mean(2), (win * i).sum(2) / 6, (win * j).sum(2) / 6
    resid2 = (win * win).sum(2) - 9 * mean**2 - 6 * gi**2 - 6 * gj**2
    rms = (resid2.clamp(min=0) / 9).sqrt()
    return (rms.amax(dim=1) < tol).float().mean(dim=1)


def palette_pixels(images: Tensor, tol: float = 0.25) -> Tensor:
    """[B, 4, H, W] 0/1: pixels within `tol` (RGB distance) of each palette colour (muted backgrounds are not)."""
    palette = torch.tensor(PALETTE, dtype=images.dtype, device=images.device)
    d = (images[:, None] - palette[None, :, :, None, None]).norm(dim=2)
    nearest = d.argmin(dim=1, keepdim=True)
    hit = torch.zeros_like(d).scatter_(1, nearest, 1.0)
    return hit * (d < tol).float()


def dominant_object(image: Tensor) -> tuple[int, int, float]:
    """(colour, kind, share of pixels) of the palette colour covering most of `image` [3, H, W].

    Kind from how the colour's pixels fill their bounding box: a square fills it, a disc π/4 of it.
    Colour −1 when no pixel is on the palette.
    """
    hits = palette_pixels(image[None])[0]
    counts = hits.sum(dim=(1, 2))
    colour = int(counts.argmax())
    if counts[colour] == 0:
        return -1, -1, 0.0
    ys, xs = torch.nonzero(hits[colour], as_tuple=True)
    box = float((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
    kind = 1 if counts[colour] / box > (1 + math.pi / 4) / 2 else 0
    return colour, kind, float(counts[colour] / hits[0].numel())


def in_world(images: Tensor, min_smooth: float = 0.6, min_object: float = 0.02, max_object: float = 0.5) -> Tensor:
    """[B] bool: smooth (`smooth_share`) and showing a palette-coloured object of a plausible size.

    Flat or blurry images (a random model's) fail the object test; noisy ones the smoothness test.
    """
    smooth = smooth_share(images) >= min_smooth
    shares = torch.tensor([dominant_object(im)[2] for im in images])
    return smooth & (shares >= min_object) & (shares <= max_object)
