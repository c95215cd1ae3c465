"""The Drag Points editor's picture when no Load Image feeds it (each frontend, each renderer), on the shapes drag
example as it ships: Shapes Scene → VAE Encode/Decode feed the node, so the picture comes from the node's run.

A new user met a black editor here until a run, and a blank one after a run in which the node was cached (as
every node is when the same workflow runs again); the 32 px result was a thumbnail too small to judge."""

import io

import numpy as np
from PIL import Image

EXAMPLE = "sde_edit_shapes_drag"


def view(server, ref: dict) -> Image.Image:
    return Image.open(io.BytesIO(server.view(ref["filename"], ref.get("subfolder", ""), ref["type"]))).convert("RGB")


def test_the_editor_shows_the_run_s_picture_also_when_the_node_was_cached(ui, drive):
    from workflows import OUT_DIR

    shot = ui.artifacts() / "shapes_drag_run.png"
    report = drive(ui, "picture_sources.cjs", OUT_DIR / f"{EXAMPLE}.json", shot, timeout=420)

    # Before any run the editor says where the picture will come from, in full.
    before = report["beforeRun"]
    assert before["size"] is None and "Load Image" in before["status"] and "run" in before["status"], before
    # Show picture runs what feeds the node, not the edit: the last prompt had Drag Points as its one output.
    assert report["shown"]["size"] == [32, 32] and report["showButtonAfter"] == "none", report["shown"]
    history = ui.server.get_json("/history")
    shown_prompt = next(e for e in history.values() if e["prompt"][4] == [report["firstRun"]["dragPointsId"]])
    assert shown_prompt["status"]["completed"] and set(shown_prompt["outputs"]) <= {report["firstRun"]["dragPointsId"]}
    # The run (executed or cached: the server tier may have run this graph already) sends the 32 px picture.
    for key in ("afterRun", "afterCachedRun"):
        state = report[key]
        assert state["size"] == [32, 32], (key, report)
        assert "from the last run" in state["status"] and "click a source" in state["status"], (key, state)
        assert state["shown"] > 100, (key, state)  # the editor is on screen, at a clickable size
    # The second load of the same file ran with every node cached, Drag Points among them.
    cached = report["cachedRun"]
    assert cached["dragPointsId"] in cached["cached"], cached
    # The shapes example shows its result 8 times larger (nearest neighbour), beside the 32 px file it saves.
    preview = view(ui.server, report["preview"])
    assert preview.size == (256, 256)
    small = np.asarray(preview)[4::8, 4::8]
    assert np.array_equal(np.asarray(preview), small.repeat(8, 0).repeat(8, 1))  # 8 × 8 squares, sharp
    assert shot.stat().st_size > 10_000
