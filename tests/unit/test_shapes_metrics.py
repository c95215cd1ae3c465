"""The shapes benchmarks' metrics score the exact answer perfectly and the typical failures as failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shapes import metrics, world

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py

S = 32


def red_disc(x=0.3, y=0.5, seed=0):
    scene = world.random_scene(np.random.default_rng(seed), 1, kind=0, colour=0, r_range=(0.14, 0.16))
    return world.moved(scene, 0, x, y)


def img(scene):
    return world.render(scene, S)[0]


def test_components_are_8_connected_regions_largest_first():
    m = torch.zeros(10, 10)
    m[1:4, 1:4] = 1  # 9 px
    m[4, 4] = 1  # touches the block diagonally: same region
    m[7:9, 6:9] = 1  # 6 px, apart
    regions = metrics.components(m)
    assert [int(r.sum()) for r in regions] == [10, 6]
    assert not (regions[0] & regions[1]).any()
    assert metrics.components(torch.zeros(4, 4)) == []


def test_drag_metrics_perfect_on_the_answer():
    scene = red_disc()
    answer = world.moved(scene, 0, 0.7, 0.5)
    m = metrics.drag_metrics(img(answer), scene, answer, 0)
    assert m["dist"] < 0.3 and m["iou"] > 0.97 and m["lost"] == 0
    assert m["left"] == 0 and m["copy_left"] == 0 and m["hole_err"] == 0 and m["outside_err"] == 0


def test_drag_metrics_catch_no_move_a_second_copy_and_a_lost_object():
    scene = red_disc()
    answer = world.moved(scene, 0, 0.7, 0.5)
    still = metrics.drag_metrics(img(scene), scene, answer, 0)
    assert still["dist"] == pytest.approx(0.4 * S, abs=0.3) and still["iou"] == 0 and still["copy_left"] == 1
    assert still["hole_err"] > 0.2 and still["outside_err"] == 0
    both = world.Scene(scene.bg0, scene.bg1, scene.angle, scene.shapes + answer.shapes)
    two = metrics.drag_metrics(img(both), scene, answer, 0)
    assert two["iou"] > 0.97 and two["copy_left"] == 1  # on target, but the original is still there
    gone = metrics.drag_metrics(world.render_background(scene, S)[0], scene, answer, 0)
    assert gone["lost"] == 1 and math.isnan(gone["dist"]) and gone["iou"] == 0 and gone["copy_left"] == 0


def test_drag_metrics_half_way_and_background_noise():
    scene = red_disc()
    answer = world.moved(scene, 0, 0.7, 0.5)
    half = metrics.drag_metrics(img(world.moved(scene, 0, 0.5, 0.5)), scene, answer, 0)
    assert half["dist"] == pytest.approx(0.2 * S, abs=0.3) and 0 < half["iou"] < 0.5
    noisy = img(answer) + 0.05 * torch.randn(3, S, S, generator=torch.Generator().manual_seed(0))
    m = metrics.drag_metrics(noisy, scene, answer, 0)
    assert m["outside_err"] == pytest.approx(0.05 * math.sqrt(2 / math.pi), rel=0.15)
    assert m["iou"] > 0.9  # noise this small does not change which pixels are red


def test_short_drag_has_no_hole_to_judge():
    scene = red_disc()
    answer = world.moved(scene, 0, 0.31, 0.5)
    m = metrics.drag_metrics(img(answer), scene, answer, 0)
    assert math.isnan(m["left"]) and math.isnan(m["copy_left"])


@pytest.mark.parametrize("edit", ["recolour", "reshape"])
def test_edit_metrics(edit):
    scene = red_disc(0.4, 0.6)
    answer = world.recoloured(scene, 0, "blue") if edit == "recolour" else world.reshaped(scene, 0, "square")
    right = metrics.edit_metrics(img(answer), scene, answer, 0)
    assert right["class_ok"] == 1 and right["shift"] < 0.5 and right["bg_err"] == 0 and right["err"] == 0
    unchanged = metrics.edit_metrics(img(scene), scene, answer, 0)
    assert unchanged["class_ok"] == 0 and unchanged["err"] > 0
    elsewhere = world.moved(answer, 0, 0.7, 0.3)
    moved = metrics.edit_metrics(img(elsewhere), scene, answer, 0)
    assert moved["class_ok"] == 1 and moved["shift"] == pytest.approx(math.hypot(0.3, 0.3) * S, abs=0.5)
    assert moved["bg_err"] > 0  # the object landed on what should be background


def test_mask_iou():
    scene = red_disc()
    truth = world.object_masks(scene, S)[0, 0]
    assert metrics.mask_iou(truth, truth, 0.5) == 1
    inner = -torch.nn.functional.max_pool2d(-(truth > 0.5).float()[None, None], 3, 1, 1)[0, 0]  # eroded 1 px
    rim = (truth > 0.5) & ~(inner > 0.5)
    assert metrics.mask_iou(rim.float(), truth, 0.5) == pytest.approx(float(rim.sum()) / float((truth > 0.5).sum()))
    assert metrics.mask_iou(truth * 0.4, truth, 0.5) == 0  # nothing above the threshold


# Realism: the nearest in-world one-object scene (fit_scene) and its residual.

N_SCENES = 20


def one_object(k):
    return world.random_scene(np.random.default_rng(k), 1, r_range=(0.12, 0.18))


def far_corner(shape):
    """The corner point (0.2 or 0.8 each way) farthest from `shape`: more than two radii off for r ≤ 0.18."""
    return max(((x, y) for x in (0.2, 0.8) for y in (0.2, 0.8)), key=lambda p: math.hypot(p[0] - shape.cx,
                                                                                           p[1] - shape.cy))


def blend(image, scene, alpha):
    """`image` with `scene`'s object blended in at opacity `alpha` (a ghost)."""
    m = world.object_masks(scene, S)[0, 0]
    return image * (1 - alpha * m) + alpha * m * torch.tensor(scene.shapes[0].rgb).view(3, 1, 1)


@pytest.fixture(scope="module")
def clean_fits():
    return [(scene, *metrics.fit_scene(img(scene))) for scene in map(one_object, range(N_SCENES))]


def test_fit_recovers_rendered_scenes(clean_fits):
    for truth, fit, realism in clean_fits:
        o, f = truth.shapes[0], fit.shapes[0]
        assert realism < 0.01 and len(fit.shapes) == 1
        assert (f.kind, f.colour) == (o.kind, o.colour)
        assert math.hypot(f.cx - o.cx, f.cy - o.cy) * S < 0.5
        assert realism == pytest.approx(float((img(truth) - img(fit)).abs().mean()), abs=1e-6)  # its definition


def test_a_slightly_misplaced_object_is_still_realistic():
    rng = np.random.default_rng(5)
    for k in range(N_SCENES):
        scene = one_object(k)
        o = scene.shapes[0]
        d, a = rng.uniform(1, 2) / S, rng.uniform(0, 2 * math.pi)
        fit, realism = metrics.fit_scene(img(world.moved(scene, 0, o.cx + d * math.cos(a), o.cy + d * math.sin(a))))
        assert realism < 0.01 and fit.shapes[0].colour == o.colour


def test_no_palette_pixel_fits_the_gradient_alone():
    scene = one_object(3)
    fit, realism = metrics.fit_scene(world.render_background(scene, S)[0])
    assert fit.shapes == () and realism < 1e-4


def grain(image, scene, k):
    return (image + 0.05 * torch.randn(3, S, S, generator=torch.Generator().manual_seed(k))).clamp(0, 1)


def ghost(image, scene, k):  # 30 % of the object left at another place
    return blend(image, world.moved(scene, 0, *far_corner(scene.shapes[0])), 0.3)


def ring(image, scene, k):  # the 1 px outline of the object at 30 % at another place
    m = world.object_masks(world.moved(scene, 0, *far_corner(scene.shapes[0])), S)[0, 0]
    rim = (m + torch.nn.functional.max_pool2d(-m[None, None], 3, 1, 1)[0, 0]).clamp(0, 1)  # m − eroded m
    return image * (1 - 0.3 * rim) + 0.3 * rim * torch.tensor(scene.shapes[0].rgb).view(3, 1, 1)


def blur(image, scene, k):  # a 3 px box blur
    return torch.nn.functional.avg_pool2d(image[None], 3, 1, 1, count_include_pad=False)[0]


def seam(image, scene, k):  # the right half's background shifted by 0.05
    out = image.clone()
    out[:, :, S // 2 :] += 0.05
    return out.clamp(0, 1)


def noisy_patch(image, scene, k):  # the object dragged away, N(0, 0.15) noise left where it was
    out = img(world.moved(scene, 0, *far_corner(scene.shapes[0])))
    src = world.object_masks(scene, S)[0, 0] > 0.5
    noise = 0.15 * torch.randn(3, S, S, generator=torch.Generator().manual_seed(k))
    return torch.where(src, (out + noise).clamp(0, 1), out)


# Bounds about half the smallest value seen over the 20 scenes, each at least 4x the largest clean residual.
DEFECTS = [(grain, 0.03), (ghost, 0.005), (ring, 0.002), (blur, 0.003), (seam, 0.006), (noisy_patch, 0.004)]


@pytest.mark.parametrize(("defect", "bound"), DEFECTS, ids=[d.__name__ for d, _ in DEFECTS])
def test_defects_score_clearly_higher_than_the_world(clean_fits, defect, bound):
    clean = max(realism for _, _, realism in clean_fits)
    assert bound > 4 * clean
    for k, (scene, _, _) in enumerate(clean_fits):
        assert metrics.fit_scene(defect(img(scene), scene, k))[1] > bound, (defect.__name__, k)


def test_drag_metrics_realism_colour_and_catastrophes():
    scene = one_object(2)
    o = scene.shapes[0]
    answer = world.moved(scene, 0, o.cx + 8 / S, o.cy) if o.cx < 0.5 else world.moved(scene, 0, o.cx - 8 / S, o.cy)
    right = metrics.drag_metrics(img(answer), scene, answer, 0)
    assert right["err"] == 0 and right["realism"] < 0.01
    assert right["wrong_colour"] == 0 and right["catastrophic"] == 0
    other = (o.colour + 1) % len(world.COLOURS)
    recoloured = metrics.drag_metrics(img(world.recoloured(answer, 0, other)), scene, answer, 0)
    assert recoloured["wrong_colour"] == 1 and recoloured["catastrophic"] == 1 and recoloured["err"] > 0
    assert recoloured["realism"] < 0.01  # an in-world image, only the wrong one
    still = metrics.drag_metrics(img(scene), scene, answer, 0)
    assert still["dist"] > 5 and still["lost"] == 0 and still["wrong_colour"] == 0 and still["catastrophic"] == 1
    near = world.moved(answer, 0, answer.shapes[0].cx, answer.shapes[0].cy + 3 / S)  # 3 px off: a miss, not a failure
    close = metrics.drag_metrics(img(near), scene, answer, 0)
    assert 2.5 < close["dist"] < 3.5 and close["catastrophic"] == 0


def test_edit_metrics_realism():
    scene = one_object(4)
    answer = world.recoloured(scene, 0, (scene.shapes[0].colour + 2) % len(world.COLOURS))
    assert metrics.edit_metrics(img(answer), scene, answer, 0)["realism"] < 0.01
    noisy = grain(img(answer), answer, 0)
    assert metrics.edit_metrics(noisy, scene, answer, 0)["realism"] > 0.03
