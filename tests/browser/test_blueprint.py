"""The subgraph blueprint (subgraphs/*.json): ComfyUI serves it as the pack's (/global_subgraphs), each frontend
fetches it on load, and used as the node library uses it (pasted, then wired) it makes the same graph as the
nodes it stands for; that graph runs through the server (each frontend, each renderer)."""

import io
import json

import numpy as np
from hostlib import CHECKPOINTS, ROOT
from PIL import Image

NAME = "SDE Edit - SDE-Drag an image"
FILE = ROOT / "subgraphs" / f"{NAME}.json"


def shape(prompt: dict) -> list[str]:
    """A graph up to node ids: each node as its class and inputs, links as (class of the source, slot)."""
    def value(v):  # numbers as floats: the frontend writes 3.0 as 3
        if isinstance(v, list):
            return [prompt[v[0]]["class_type"], v[1]]
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
    return sorted(json.dumps([n["class_type"], {k: value(v) for k, v in sorted(n["inputs"].items())}])
                  for n in prompt.values())


def test_the_server_serves_the_blueprint_as_the_pack_s(comfy_server):
    entries = comfy_server.get_json("/global_subgraphs").values()
    ours = [e for e in entries if e["name"] == NAME]
    assert len(ours) == 1 and ours[0]["info"]["node_pack"] == "custom_nodes.sde-edit", list(entries)


def test_the_blueprint_file_is_current(comfy_server):
    """Made again from its source graph by the pinned frontend, it is the file in subgraphs/."""
    from workflows import blueprint_text

    assert blueprint_text(comfy_server, NAME) == FILE.read_text(), f"{FILE.name} is out of date: run `make workflows`"


def test_the_blueprint_stands_for_its_nodes_and_runs(ui, drive, tmp_path):
    from workflows import BLUEPRINTS, Settings, drag_image_chain, to_ui

    server = ui.server
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(server.dirs["input"] / "bp_input.png")
    settings = Settings(ckpt=CHECKPOINTS["sd15"], image="bp_input.png",
                        points='[{"source": [16, 32], "target": [40, 32]}]')
    whole = drag_image_chain(settings)
    types = BLUEPRINTS[NAME][1]
    inside = {nid for nid, n in whole.items() if n["class_type"] in types}
    outside = {nid: n for nid, n in whole.items() if nid not in inside}
    for n in outside.values():  # links into the blueprint are made by the browser
        n["inputs"] = {k: v for k, v in n["inputs"].items() if not (isinstance(v, list) and v[0] in inside)}
    wf = tmp_path / "outside.json"
    wf.write_text(json.dumps(to_ui(outside, server.object_info())))
    # The links that crossed the cut, by the blueprint's input names (the subgraph named them after the inputs
    # inside), and its output into Save Image.
    wires = [[1, 0, "model"], [1, 2, "vae"], [2, 0, "pixels"], [4, 0, "positive"], [5, 0, "negative"],
             [8, 0, "points"], ["out", 0, 21, "images"]]
    report = drive(ui, "use_blueprint.cjs", wf, FILE, json.dumps(wires), ui.artifacts() / "blueprint.png")
    assert report["watched"], "the frontend did not fetch the pack's blueprint at start-up"
    got = report["prompt"]
    linked = {name for name, is_linked in got["inputs"] if is_linked}
    assert got["title"] == NAME and linked == {w[2] for w in wires if w[0] != "out"}, got["inputs"]
    # The frontend flattens the blueprint into the nodes it stands for, with the blueprint's own settings.
    blueprint = json.loads(FILE.read_text())
    want = drag_image_chain(Settings(ckpt=settings.ckpt, image=settings.image, points=settings.points))
    inner = {n["type"]: n.get("widgets_values", []) for n in blueprint["definitions"]["subgraphs"][0]["nodes"]}
    assert shape(got["output"]) == shape(want), "the blueprint does not stand for VAE Encode → SDE-Drag → VAE Decode"
    assert inner["SDEEditSDEDrag"][1:3] == [want["10"]["inputs"]["t0"], want["10"]["inputs"]["steps"]]
    entry = server.run(got["output"], timeout=600)
    saved = [png for m, png in server.images(entry) if m["type"] == "output"]
    assert len(saved) == 1 and Image.open(io.BytesIO(saved[0])).size == (64, 64)
