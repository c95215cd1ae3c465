"""Ground-truth metrics of edits in the shapes world (issue "shapes benchmarks"; docs/design.md §8).

Every edit of a shapes scene has an exact answer (`world.moved / recoloured / reshaped`), so an
edited image is scored against the rendered answer instead of judged by eye. Images are [3, H, W] in
[0, 1]; masks [H, W]; positions in pixels (x right, y down, pixel centres at k + 0.5). Pure torch.

- `components`: connected regions (8-neighbourhood) of a 0/1 mask.
- `fit_scene` (shapes/fit.py): the nearest in-world one-object scene to an image and its
  residual, the `realism` of an edit: about 0 for any rendered scene (the object anywhere), clearly more
  for grain, ghosts of an old object, seams, blur or noisy patches.
- `drag_metrics`: where the dragged object ended up (centroid distance to the target, IoU with the
  object at the target), whether a second copy was left at the source, the error where the object
  was (the hole), everywhere else and over the whole image (`err`), the `realism`, whether the
  object's colour changed (`wrong_colour`) and the `catastrophic` failures (lost, recoloured or more
  than 5 px off).
- `edit_metrics`: a prompt change (recolour, reshape): is the requested class there, did it stay in
  place, how much did the background change, and the `realism`.
- `mask_iou`: a DiffEdit map, thresholded, against the object's true mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import world
from .fit import fit_scene

PALETTE_TOL = 0.25  # RGB distance within which a pixel counts as a palette colour (world.palette_pixels)


def components(mask: Tensor) -> list[Tensor]:
    """The connected regions (8-neighbourhood) of a 0/1 mask [H, W], largest first, as bool masks."""
    on = mask > 0.5
    h, w = on.shape
    labels = torch.where(on, torch.arange(1, h * w + 1, dtype=torch.float32).view(h, w), torch.zeros(h, w))
    while True:  # every pixel takes the largest label of its region: propagate maxima until nothing changes
        grown = F.max_pool2d(labels[None, None], 3, 1, 1)[0, 0] * on
        if torch.equal(grown, labels):
            break
        labels = grown
    regions = [labels == v for v in labels.unique() if v > 0]
    return sorted(regions, key=lambda r: -int(r.sum()))


def centroid(mask: Tensor) -> tuple[float, float]:
    """(x, y) in pixels of a non-empty mask's pixel centres."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return float(xs.float().mean()) + 0.5, float(ys.float().mean()) + 0.5


def dilate(mask: Tensor, px: int) -> Tensor:
    """Bool mask grown by `px` pixels (square neighbourhood)."""
    if px <= 0:
        return mask > 0.5
    return F.max_pool2d((mask > 0.5).float()[None, None], 2 * px + 1, 1, px)[0, 0] > 0.5


def iou(a: Tensor, b: Tensor) -> float:
    a, b = a > 0.5, b > 0.5
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 1.0


def colour_pixels(image: Tensor, colour: int, tol: float = PALETTE_TOL) -> Tensor:
    """[H, W] bool: pixels of `image` [3, H, W] nearest to palette colour `colour` and within `tol` of it."""
    return world.palette_pixels(image[None], tol)[0, colour] > 0.5


def _mean_abs(a: Tensor, b: Tensor, where: Tensor) -> float:
    n = int(where.sum())
    return float((a - b).abs().mean(0)[where].mean()) if n else math.nan


def drag_metrics(out: Tensor, scene: world.Scene, answer: world.Scene, i: int) -> dict[str, float]:
    """Scores of a drag of object `i` of `scene`; `answer` is the same scene with the object moved.

    - `dist`: pixels from the target centre to the centroid of the object's colour region that overlaps
      the object's place in the answer most (the largest region when none does); nan when the colour
      is gone (`lost` = 1).
    - `iou`: IoU of that region with the object's mask in the answer (0 when lost).
    - `left`: share of the source area the object no longer covers in the answer (the hole) that still
      shows the object's colour; `copy_left` = 1 when above 0.3 (a second copy left behind). nan when
      the hole is smaller than a fifth of the object (a short drag).
    - `hole_err`: mean |out − answer| over the hole; `outside_err`: over everything farther than 2 px from
      the object's source and target areas (what the drag should not touch); `err`: over the whole image.
    - `realism`: the residual of the nearest in-world scene (`fit_scene`), whatever the object's place.
    - `wrong_colour`: 1 when the image's dominant palette object (`world.dominant_object`) is not
      in the dragged object's colour (recoloured, or another colour took over), else 0.
    - `catastrophic`: 1 when `lost`, `wrong_colour` or `dist` > 5 px, else 0.
    """
    size = out.shape[-1]
    obj = scene.shapes[i]
    src = world.object_masks(scene, size)[0, i] > 0.5
    tgt = world.object_masks(answer, size)[0, i] > 0.5
    truth = world.render(answer, size)[0]
    hits = colour_pixels(out, obj.colour)
    regions = components(hits)
    m = {"lost": float(not regions)}
    if regions:
        best = max(regions, key=lambda r: (int((r & tgt).sum()), int(r.sum())))
        cx, cy = centroid(best)
        tx, ty = answer.shapes[i].cx * size, answer.shapes[i].cy * size
        m["dist"] = math.hypot(cx - tx, cy - ty)
        m["iou"] = iou(best, tgt)
    else:
        m["dist"], m["iou"] = math.nan, 0.0
    hole = src & ~dilate(tgt, 1)
    if int(hole.sum()) >= 0.2 * max(int(src.sum()), 1):
        m["left"] = float((hits & hole).sum()) / float(hole.sum())
        m["copy_left"] = float(m["left"] > 0.3)
    else:
        m["left"] = m["copy_left"] = math.nan
    m["hole_err"] = _mean_abs(out, truth, src & ~tgt)
    m["outside_err"] = _mean_abs(out, truth, ~dilate(src | tgt, 2))
    m["err"] = float((out - truth).abs().mean())
    m["realism"] = fit_scene(out, size)[1]
    m["wrong_colour"] = float(world.dominant_object(out)[0] != obj.colour)
    m["catastrophic"] = float(m["lost"] == 1 or m["wrong_colour"] == 1 or not m["dist"] <= 5)
    return m


def edit_metrics(out: Tensor, scene: world.Scene, answer: world.Scene, i: int) -> dict[str, float]:
    """Scores of a prompt change of object `i` (recolour, reshape); `answer` is the edited scene.

    - `colour_ok` / `kind_ok`: the image's dominant palette object (`world.dominant_object`) has
      the answer's colour / kind; `class_ok` both.
    - `shift`: pixels from the object's centre to the centroid of the largest region of the answer's
      colour (nan when that colour is absent): did the object stay in place.
    - `bg_err`: mean |out − answer| farther than 2 px from the object before and after the edit (what
      the edit should not touch); `err`: over the whole image.
    - `realism`: the residual of the nearest in-world scene (`fit_scene`).
    """
    size = out.shape[-1]
    want = answer.shapes[i]
    src = world.object_masks(scene, size)[0, i] > 0.5
    tgt = world.object_masks(answer, size)[0, i] > 0.5
    truth = world.render(answer, size)[0]
    colour, kind, _ = world.dominant_object(out)
    m = {"colour_ok": float(colour == want.colour), "kind_ok": float(kind == want.kind)}
    m["class_ok"] = m["colour_ok"] * m["kind_ok"]
    regions = components(colour_pixels(out, want.colour))
    if regions:
        cx, cy = centroid(regions[0])
        m["shift"] = math.hypot(cx - want.cx * size, cy - want.cy * size)
    else:
        m["shift"] = math.nan
    m["bg_err"] = _mean_abs(out, truth, ~dilate(src | tgt, 2))
    m["err"] = float((out - truth).abs().mean())
    m["realism"] = fit_scene(out, size)[1]
    return m


def mask_iou(soft: Tensor, truth: Tensor, threshold: float) -> float:
    """IoU of `soft > threshold` with the true mask (the map's own smoothing and hole filling are the DiffEdit
    node's options)."""
    return iou(soft > threshold, truth)
