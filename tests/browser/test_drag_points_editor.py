"""The Drag Points editor in the real frontend (each frontend, each renderer): clicks become drags in the saved
workflow, another picture in the Load Image shows at once, and the run draws the drags."""

import io
import json
import time

import numpy as np
from PIL import Image, ImageDraw

W, H = 128, 96  # not square: the editor letterboxes it
K = 3  # the preview enlarges a 96 px short side 3 times (to 288 px: nodes/drag_points.py preview_scale)
OTHER = (80, 60)  # the second picture chosen in the Load Image
CLICKS = [[20, 30], [60, 45], [110, 80], [95, 15]]  # source, target, source, target (image pixels)
PAIRS = [{"source": CLICKS[0], "target": CLICKS[1]}, {"source": CLICKS[2], "target": CLICKS[3]}]


def picture() -> Image.Image:
    """A picture whose every pixel is known: a gradient with a dark disc and a light bar."""
    x, y = np.meshgrid(np.arange(W), np.arange(H))
    rgb = np.stack([60 + x, 40 + y, np.full_like(x, 90)], -1).astype(np.uint8)
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    draw.ellipse([10, 20, 40, 50], fill=(30, 30, 70))
    draw.rectangle([85, 10, 120, 25], fill=(220, 210, 160))
    return img


def graph(image_name: str) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {"class_type": "SDEEditDragPoints", "inputs": {"image": ["1", 0], "points": "[]"}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 1]}},
    }


def finished_run(server, points: str, timeout: float = 60.0) -> dict:
    """The history entry of the prompt that ran these points, once it has completed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in server.get_json("/history").values():
            prompt = entry["prompt"][2]
            if prompt.get("2", {}).get("inputs", {}).get("points") == points and entry["status"].get("completed"):
                return entry
        time.sleep(0.5)
    raise AssertionError(f"no finished run of {points} in /history:\n{server.log_tail(40)}")


def near_a_drag(margin: float) -> np.ndarray:
    """[H·K, W·K]: within `margin` preview pixels of a drag's segment (between the centres of its pixels)."""
    ys, xs = np.mgrid[0:H * K, 0:W * K].astype(np.float64)
    dist = np.full((H * K, W * K), np.inf)
    for p in PAIRS:
        (sx, sy), (tx, ty) = ([(v + 0.5) * K - 0.5 for v in q] for q in (p["source"], p["target"]))
        dx, dy = tx - sx, ty - sy
        u = np.clip(((xs - sx) * dx + (ys - sy) * dy) / (dx * dx + dy * dy), 0, 1)
        dist = np.minimum(dist, np.hypot(xs - (sx + u * dx), ys - (sy + u * dy)))
    return dist <= margin


def test_clicks_make_drags_that_are_saved_restored_and_drawn_by_the_run(ui, drive, tmp_path):
    from workflows import to_ui

    server = ui.server
    name, other = "sde_edit_drag_points.png", "sde_edit_drag_points_other.png"
    picture().save(server.dirs["input"] / name)
    Image.new("RGB", OTHER, (200, 120, 40)).save(server.dirs["input"] / other)
    workflow = to_ui(graph(name), server.object_info())
    layout = {"SDEEditDragPoints": ([420, 40], [420, 400]), "PreviewImage": ([880, 40], [300, 300])}
    for n in workflow["nodes"]:
        n["pos"], n["size"] = layout.get(n["type"], (n["pos"], n["size"]))
    wf_file = tmp_path / "drag_points_workflow.json"
    wf_file.write_text(json.dumps(workflow))
    shot = ui.artifacts() / "drag_points_editor.png"

    result = drive(ui, "drag_points.cjs", wf_file, "2", json.dumps(CLICKS), shot, other, timeout=420)
    steps = result["steps"]

    def close(got, want):
        return len(got) == len(want) and all(abs(a - b) <= 1 for g, w in zip(got, want, strict=True)
                                             for a, b in zip(g, w, strict=True))

    # Four clicks: two drags, in the pairs format, at the clicked pixels.
    clicked = json.loads(steps["clicked"])
    assert all(list(p) == ["source", "target"] for p in clicked) and len(clicked) == 2, clicked
    assert close([c for p in clicked for c in (p["source"], p["target"])], CLICKS), clicked
    # Undo removes the last point: a source waits for its target (KJNodes' alternating list, odd count).
    undone = json.loads(steps["undone"])
    assert close([[p["x"], p["y"]] for p in undone], CLICKS[:3]), undone
    assert json.loads(steps["backspaced"]) == undone and steps["nodeStillThere"]
    final = json.loads(steps["final"])
    assert final == clicked and "2 drags" in steps["status"], steps
    # The saved workflow holds exactly the two drags; loading it puts them back in the editor.
    assert steps["savedWidgets"] == [steps["final"]]
    assert steps["reloaded"]["widget"] == steps["final"]
    assert close(steps["reloaded"]["editor"], [c for p in final for c in (p["source"], p["target"])])
    assert steps["prompt"]["points"] == steps["final"]
    assert "sde_edit_points" in steps["lastRun"]  # the clean picture the run sent back to the editor
    assert steps["switched"] == list(OTHER)  # another picture in the Load Image: shown with no run
    assert steps["unlinkedImage"] == [W, H]  # shown once the Load Image is disconnected: the run's
    assert steps["typed"] == [[5, 6], [9, 7]]  # the points text set without a callback reaches the editor

    # The run: the node's preview (through Preview Image) is the picture, enlarged, with arrows at the drags.
    entry = finished_run(server, steps["final"])
    assert entry["status"]["status_str"] == "success", entry["status"]
    shown = entry["outputs"]["3"]["images"]
    assert len(shown) == 1
    preview = np.asarray(Image.open(io.BytesIO(server.view(
        shown[0]["filename"], shown[0]["subfolder"], shown[0]["type"]))).convert("RGB")).astype(int)
    original = np.asarray(picture()).astype(int).repeat(K, 0).repeat(K, 1)  # nearest neighbour, K times
    assert preview.shape == original.shape == (H * K, W * K, 3)
    changed = (preview != original).any(-1)
    for p in final:
        for x, y in (p["source"], p["target"]):
            assert changed[y * K + 1, x * K + 1], f"no arrow mark at ({x}, {y})"
    assert not changed[~near_a_drag(margin=14)].any(), "the preview changed away from the arrows"
    assert shot.stat().st_size > 10_000
