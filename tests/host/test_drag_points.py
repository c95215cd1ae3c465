"""SDE Edit: Drag Points: both point formats in, the pairs format out, arrows only near the drags, clear refusals."""

import importlib
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


def enlarged(image: torch.Tensor, k: int) -> torch.Tensor:
    return image.repeat_interleave(k, 1).repeat_interleave(k, 2)


@pytest.mark.parametrize(("height", "width", "k"), [(H, W, 4), (32, 32, 8), (256, 300, 1), (100, 2000, 1)])
def test_small_pictures_get_a_legible_preview_by_a_whole_factor(host, height, width, k):
    dp = importlib.import_module(host.node("SDEEditDragPoints").__module__)
    assert dp.preview_scale(width, height) == k  # short side to 256 px; the long side never past 2,048 px
    _, preview = run(host, torch.rand(1, height, width, 3), "[]").result
    assert preview.shape == (1, height * k, width * k, 3)


def test_preview_draws_arrows_near_the_drags_only_on_every_picture_of_the_batch(host):
    image = picture(batch=3)
    before = image.clone()
    out = run(host, image, json.dumps(PAIRS))
    _, preview = out.result
    assert torch.equal(image, before)  # the input is untouched
    k = 4  # a 96 × 64 picture: enlarged to 384 × 256, every pixel a 4 × 4 square
    assert preview.shape == (3, H * k, W * k, 3) and preview.dtype == image.dtype
    changed = (preview != enlarged(image, k)).any(-1)  # [B, H·k, W·k]
    ys, xs = torch.meshgrid(torch.arange(H * k, dtype=torch.float32), torch.arange(W * k, dtype=torch.float32),
                            indexing="ij")

    def centre(p):  # an image pixel's centre on the enlarged preview
        return [(v + 0.5) * k - 0.5 for v in p]

    near = torch.stack([distance_to_segment(xs, ys, centre(p["source"]), centre(p["target"]))
                        for p in PAIRS]).min(0).values
    margin = 12  # on a 256 px preview: line 2 px, dot radius 5, head 12 long and 6 px to each side
    for b in range(3):
        assert not changed[b][near > margin].any(), f"picture {b} changed away from the arrows"
        assert torch.equal(changed[b], changed[0])  # the same arrows on every picture
        for p in PAIRS:
            (sx, sy), (tx, ty) = p["source"], p["target"]
            assert changed[b, sy * k + 1, sx * k + 1] and changed[b, ty * k + 1, tx * k + 1], "no mark at a drag"
        # The source dot is red, the arrow head at the target blue.
        sx, sy = (v * k + 1 for v in PAIRS[0]["source"])
        tx, ty = (v * k + 1 for v in PAIRS[0]["target"])
        assert preview[b, sy, sx, 0] > 0.8 and preview[b, sy, sx, 2] < 0.3
        assert preview[b, ty, tx, 2] > 0.4 and preview[b, ty, tx, 0] < 0.3


def test_the_editor_gets_the_clean_picture_and_no_second_preview(host):
    import folder_paths

    assert host.node("SDEEditDragPoints").GET_SCHEMA().is_output_node  # visited, and its UI sent, when cached
    out = run(host, picture(batch=2), json.dumps(PAIRS))
    shown = out.ui
    assert set(shown) == {"sde_edit_image"}  # no "images": the frontend would draw them below the editor
    clean = shown["sde_edit_image"]  # the picture without arrows, for the editor's background
    assert len(clean) == 1 and clean[0]["type"] == "temp"
    path = os.path.join(folder_paths.get_temp_directory(), clean[0]["subfolder"], clean[0]["filename"])
    from PIL import Image
    assert Image.open(path).size == (W, H)  # the picture itself: the editor's clicks are in its pixels


def test_no_points_yet_shows_the_picture_unchanged(host):
    image = picture()
    for empty in ("[]", "", " [ ] "):
        points, preview = run(host, image, empty).result
        assert points == "[]" and torch.equal(preview, enlarged(image, 4))


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
