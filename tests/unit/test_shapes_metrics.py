"""The shapes benchmarks' metrics score the exact answer perfectly and the typical failures as failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sampling import shapes_metrics as metrics
from sampling import shapes_world as world

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


def test_fill_holes_fills_enclosed_zeros_only():
    ring = torch.zeros(9, 9)
    ring[2:7, 2:7] = 1
    ring[3:6, 3:6] = 0
    assert int(metrics.fill_holes(ring).sum()) == 25
    open_c = ring.clone()
    open_c[4, 6:] = 0  # a channel to the border: not a hole
    open_c[4, 8] = 0
    assert int(metrics.fill_holes(open_c).sum()) == int(open_c.sum())


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


def test_mask_iou_and_post_processing():
    scene = red_disc()
    truth = world.object_masks(scene, S)[0, 0]
    assert metrics.mask_iou(truth, truth, 0.5) == 1
    inner = -torch.nn.functional.max_pool2d(-(truth > 0.5).float()[None, None], 3, 1, 1)[0, 0]  # eroded 1 px
    rim = (truth > 0.5) & ~(inner > 0.5)
    raw, post = metrics.mask_iou(rim.float(), truth, 0.5), metrics.mask_iou(rim.float(), truth, 0.5, post=True)
    assert raw < 0.6 and post > raw + 0.25  # a rim-only map: filling its hole recovers most of the object
