"""API-format graph → UI workflow, as the frontend saves one: nodes laid out left to right by depth, widget
values in the frontend's order (with a seed's control_after_generate), links typed from /object_info. Used for
the example workflows (workflows.py) and by the browser tier."""

from __future__ import annotations

import json
import re
import tempfile
import uuid

from hostlib import ComfyServer, browser_script

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def _is_widget(spec: list) -> bool:
    kind, opts = spec[0], (spec[1] if len(spec) > 1 else {})
    return (isinstance(kind, list) or kind in WIDGET_TYPES) and not opts.get("forceInput")


def _ordered_inputs(info: dict) -> list[tuple[str, list]]:
    order = info.get("input_order", {})
    out = []
    for section in ("required", "optional"):
        specs = info["input"].get(section, {})
        for name in order.get(section, list(specs)):
            out.append((name, specs[name]))
    return out


def _add_link(links: list, out_links: dict, value: list, dst: int, dst_slot: int, kind: str, ids: dict) -> int:
    """Append the link [id, from node, from slot, to node, to slot, type] of an input `value` = [node, slot]."""
    link = len(links) + 1
    src, slot = value
    links.append([link, ids[src], slot, dst, dst_slot, kind])
    out_links.setdefault((src, slot), []).append(link)
    return link


# Nodes that show a picture get room for it: the Drag Points editor (clicks need a picture of a few hundred
# pixels), Preview Image (the shapes examples' 256 px previews) and Save Image.
UI_SIZES = {"SDEEditDragPoints": (400, 440), "PreviewImage": (300, 330), "SaveImage": (300, 330)}


def to_ui(graph: dict, object_info: dict) -> dict:
    """The UI (litegraph) workflow of an API-format graph, laid out left to right by depth."""
    ids = {nid: int(nid) for nid in graph}
    depth: dict[str, int] = {}

    def depth_of(nid: str) -> int:
        if nid not in depth:
            ups = [v[0] for v in graph[nid]["inputs"].values() if isinstance(v, list)]
            depth[nid] = 1 + max((depth_of(u) for u in ups), default=-1)
        return depth[nid]

    links, nodes, rows = [], [], {}
    out_links: dict[tuple[str, int], list[int]] = {}
    for nid in sorted(graph, key=lambda n: (depth_of(n), ids[n])):
        node, info = graph[nid], object_info[graph[nid]["class_type"]]
        inputs, widgets = [], []
        for name, spec in _ordered_inputs(info):
            value = node["inputs"].get(name)
            opts = spec[1] if len(spec) > 1 else {}

            if _is_widget(spec):
                linked = isinstance(value, list)  # a widget fed by a link: the socket carries the value
                widgets.append(opts.get("default") if linked or value is None else value)
                if opts.get("control_after_generate"):
                    widgets.append("fixed")
                if opts.get("image_upload"):
                    widgets.append("image")
                if linked:
                    kind = "COMBO" if isinstance(spec[0], list) else spec[0]
                    link = _add_link(links, out_links, value, ids[nid], len(inputs), kind, ids)
                    inputs.append({"name": name, "type": kind, "widget": {"name": name}, "link": link})
            else:
                link = (_add_link(links, out_links, value, ids[nid], len(inputs), spec[0], ids)
                        if isinstance(value, list) else None)
                entry = {"name": name, "type": spec[0], "link": link}
                if name in info["input"].get("optional", {}):
                    entry["shape"] = 7  # the frontend's hollow dot for an optional socket
                inputs.append(entry)
        d = depth_of(nid)
        row = rows.get(d, 0)
        width, height = UI_SIZES.get(node["class_type"], (340, 60 + 26 * (len(inputs) + len(widgets))))
        rows[d] = row + height + 40
        nodes.append({
            "id": ids[nid], "type": node["class_type"], "pos": [40 + 440 * d, 40 + row], "size": [width, height],
            "flags": {}, "order": 0, "mode": 0, "inputs": inputs, "outputs": [],
            "properties": {"Node name for S&R": node["class_type"]}, "widgets_values": widgets,
        })
    for order, n in enumerate(nodes):
        info = object_info[n["type"]]
        n["order"] = order
        n["outputs"] = [{"name": name, "type": kind, "links": out_links.get((str(n["id"]), slot), []),
                         "slot_index": slot}
                        for slot, (name, kind) in enumerate(zip(info["output_name"], info["output"], strict=True))]
    return {"last_node_id": max(ids.values()), "last_link_id": len(links), "nodes": nodes, "links": links,
            "groups": [], "config": {}, "extra": {}, "version": 0.4}


def frontend_blueprint(server: ComfyServer, ui_graph: dict, name: str, description: str, types: list) -> str:
    """A subgraph blueprint file made by the pinned frontend itself (tests/browser/blueprint.cjs) from a UI graph:
    the format the frontend's Publish Subgraph command writes."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as wf:
        json.dump(ui_graph, wf)
        wf.flush()
        report = browser_script("blueprint.cjs", server.url, "classic", wf.name, name, description, *types)
    # The frontend gives the subgraph and its input and output slots random UUIDs: each is replaced by one made
    # from the name and its order of appearance, so the file is the same run to run.
    text = json.dumps(report["blueprint"], indent=1) + "\n"
    found = dict.fromkeys(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
    for k, old in enumerate(found):
        text = text.replace(old, str(uuid.uuid5(uuid.NAMESPACE_URL, f"sde-edit/{name}/{k}")))
    return text
