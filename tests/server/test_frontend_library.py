"""What the frontend's libraries show of the pack, as the server serves it.

- Help pages (web/docs/<node id>.md): the node library and help panel fetch a custom node's page from
  /extensions/<pack folder>/docs/<node id>.md. Each is served as written, belongs to a node of the pack, and
  every input, output or option it names in `code` is one that node has.
- Templates: /workflow_templates lists each pack's example_workflows/*.json, and the template browser shows
  example_workflows/<name>.jpg beside each (scripts/workflows.py draws them: a shapes example's output, a
  checkpoint example's graph).
"""

import io
import re
import urllib.request

import numpy as np
import pytest
from hostlib import ROOT
from pack_nodes import PACK_NODE_IDS
from PIL import Image

PAGES = sorted((ROOT / "web" / "docs").glob("*.md"))
MAIN_NODES = {"SDEEditSDEDrag", "SDEEditDragPoints", "SDEEditCycleSDERecord", "SDEEditResample",
              "SDEEditDiffEditMask", "SDEEditSyncSDE"}


def test_the_main_nodes_have_a_page():
    assert MAIN_NODES <= {p.stem for p in PAGES} <= set(PACK_NODE_IDS)


def names_of(info: dict) -> set[str]:
    names = set(info["output_name"])
    for section in ("required", "optional"):
        for name, spec in info["input"].get(section, {}).items():
            names.add(name)
            if isinstance(spec[0], list):
                names.update(map(str, spec[0]))
            elif spec[0] == "COMBO":
                names.update(map(str, spec[1].get("options", [])))
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_each_page_is_served_and_names_only_what_its_node_has(comfy_server, page):
    with urllib.request.urlopen(f"{comfy_server.url}/extensions/sde-edit/docs/{page.name}", timeout=10) as r:
        assert r.read() == page.read_bytes()
    info = comfy_server.object_info()[page.stem]
    text = page.read_text()
    assert text.startswith(f"# {info['display_name']}\n"), "the title is the node's display name"
    named = {m for m in re.findall(r"`([^`]+)`", text) if re.fullmatch(r"[a-z][a-z0-9_]*", m)}
    unknown = sorted(named - names_of(info))
    assert not unknown, f"{page.name} names what {page.stem} does not have: {unknown}"


def test_every_example_workflow_is_a_template_with_a_thumbnail(comfy_server):
    from thumbnails import SIZE
    from workflows import WORKFLOWS

    assert sorted(comfy_server.get_json("/workflow_templates")["sde-edit"]) == sorted(WORKFLOWS)
    for name in WORKFLOWS:
        with urllib.request.urlopen(f"{comfy_server.url}/api/workflow_templates/sde-edit/{name}.jpg", timeout=10) as r:
            thumb = Image.open(io.BytesIO(r.read()))
        assert thumb.format == "JPEG" and thumb.size == SIZE, name
        grey = np.asarray(thumb.convert("L"), dtype=np.float32)
        assert grey.std() > 10, f"{name}.jpg is blank"  # a drawn graph or result, not an empty canvas
        rgb = np.asarray(thumb.convert("RGB"), dtype=np.int16)
        red = ((rgb[..., 0] > 170) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)).mean()
        if "shapes" in name:  # the example's own output: the red disc (or square) of its scene, large
            assert red > 0.01, (name, red)
        else:  # the graph, on the frontend's dark canvas
            assert grey.mean() < 90 and red < 0.01, (name, grey.mean(), red)
