"""SDE Edit: Drag Points: both point formats in, the pairs format out, arrows only near the drags, clear refusals."""

import json
import os

import pytest
import torch
from stage_helpers import call

W, H = 96, 64
PAIRS = [{"source": [10, 12], "target": [40, 30]}, {"source": [80, 50], "target": [70, 10]}]
ALTERNATING = [{"x": 10, "y": 12}, {"x": 40, "y": 30}, {"x": 80.6, "y": 50.2}, {"x": 70, "y": 10}]


def picture(batch: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(batch, H, W, 3, generator=g) * 0.5 + 0.25


def run(host, image, points):
    node = host.node("SDEEditDragPoints")
    with torch.inference_mode():
        return node.execute(image=image, points=points)


def distance_to_segment(px, py, s, t):
    sx, sy = s
    tx, ty = t
    dx, dy = tx - sx, ty - sy
    u = (((px - sx) * dx + (py - sy) * dy) / (dx * dx + dy * dy)).clamp(0, 1)
    return torch.hypot(px - (sx + u * dx), py - (sy + u * dy))


def test_both_formats_give_the_pairs_format(host):
    image = picture()
    a, preview_a = call(host, "SDEEditDragPoints", image=image, points=json.dumps(PAIRS))
    b, preview_b = call(host, "SDEEditDragPoints", image=image, points=json.dumps(ALTERNATING))
    assert json.loads(a) == PAIRS
    assert json.loads(b) == PAIRS  # fractional pixels floor, as parse_points does
    assert torch.equal(preview_a, preview_b)


def test_preview_draws_arrows_near_the_drags_only_on_every_picture_of_the_batch(host):
    image = picture(batch=3)
    before = image.clone()
    out = run(host, image, json.dumps(PAIRS))
    _, preview = out.result
    assert torch.equal(image, before)  # the input is untouched
    assert preview.shape == image.shape and preview.dtype == image.dtype
    changed = (preview != image).any(-1)  # [B, H, W]
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                            indexing="ij")
    near = torch.stack([distance_to_segment(xs, ys, p["source"], p["target"]) for p in PAIRS]).min(0).values
    margin = 5  # on a 64 px picture: line 1 px, dot radius 3, head 8 long and 4 px to each side
    for b in range(3):
        assert not changed[b][near > margin].any(), f"picture {b} changed away from the arrows"
        assert torch.equal(changed[b], changed[0])  # the same arrows on every picture
        for p in PAIRS:
            (sx, sy), (tx, ty) = p["source"], p["target"]
            assert changed[b, sy, sx] and changed[b, ty, tx], "no mark at a source or target"
        # The source dot is red, the arrow head at the target blue.
        sx, sy = PAIRS[0]["source"]
        tx, ty = PAIRS[0]["target"]
        assert preview[b, sy, sx, 0] > 0.8 and preview[b, sy, sx, 2] < 0.3
        assert preview[b, ty, tx, 2] > 0.4 and preview[b, ty, tx, 0] < 0.3


def test_the_preview_is_shown_on_the_node(host):
    import folder_paths

    out = run(host, picture(batch=2), json.dumps(PAIRS))
    shown = out.ui
    assert len(shown["images"]) == 2 and all(r["type"] == "temp" for r in shown["images"])
    clean = shown["sde_edit_image"]  # the picture without arrows, for the editor's background
    assert len(clean) == 1
    for r in (*shown["images"], *clean):
        assert os.path.isfile(os.path.join(folder_paths.get_temp_directory(), r["subfolder"], r["filename"]))


def test_no_points_yet_shows_the_picture_unchanged(host):
    image = picture()
    for empty in ("[]", "", " [ ] "):
        points, preview = run(host, image, empty).result
        assert points == "[]" and torch.equal(preview, image)


@pytest.mark.parametrize(("points", "message"), [
    ("[{\"source\": [1, 2], ", "not valid JSON"),
    (json.dumps(ALTERNATING[:3]), "odd count"),
    (json.dumps([{"source": [10, 12], "target": [W, 30]}]), "outside the 96×64 image"),
    (json.dumps([{"x": 5, "y": -1}, {"x": 6, "y": 6}]), "outside"),
    (json.dumps([{"source": [10, 12], "target": [10.7, 12.2]}]), "zero length"),
    ("{\"source\": [1, 2]}", "non-empty list"),
])
def test_bad_points_are_refused_with_the_fix(host, points, message):
    image = picture()
    before = image.clone()
    with pytest.raises(ValueError, match=message) as err:
        run(host, image, points)
    assert str(err.value).startswith("points:")  # names the input
    assert torch.equal(image, before)


def test_a_picture_that_is_not_rgb_is_refused(host):
    with pytest.raises(ValueError, match="image: expected an RGB IMAGE"):
        run(host, torch.zeros(1, H, W), "[]")
