"""The pack in ComfyUI's frontend (each frontend, each renderer: conftest.py): its nodes registered, its two
extensions registered once (also under another folder name), every example workflow loaded as the graph the
server tier runs."""

import json

import tomllib
from hostlib import PINNED_FRONTEND, ROOT, ComfyServer
from pack_nodes import PACK_NODE_IDS

EXTENSIONS = ["sde_edit.core", "sde_edit.drag_points"]


def check_registered(report: dict) -> None:
    missing = [nid for nid, cat in report["registered"].items() if cat is None]
    assert not missing, f"frontend lacks {missing}; page errors: {report['errors']}"
    assert all(cat.startswith("sde_edit") for cat in report["registered"].values()), report["registered"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert report["extension"] == {"version": version, "trajectoryType": "SDE_TRAJECTORY"}, report  # web/ loaded
    assert sorted(report["extensions"]) == EXTENSIONS, report["extensions"]  # each once
    added = report["added"]
    assert added is not None and "trajectory" in added["inputs"], added


def test_frontend_registers_the_pack_nodes(ui, drive):
    shot = ui.artifacts() / "nodes.png"
    check_registered(drive(ui, "check_ui.cjs", shot, "SDEEditResample", *PACK_NODE_IDS))
    assert shot.stat().st_size > 10_000  # a real rendered page, not a blank


def test_under_the_registry_folder_name_each_extension_registers_once(tmp_path, drive, make_ui):
    """Installed as ComfyUI-Manager names it, on the pinned frontend: no "already registered" in the console."""
    (tmp_path / "custom_nodes").mkdir()
    (tmp_path / "custom_nodes" / "ComfyUI-SDE-Edit").symlink_to(ROOT, target_is_directory=True)
    with ComfyServer(tmp_path, extra_args=("--base-directory", str(tmp_path))) as server:
        ui = make_ui(PINNED_FRONTEND, "classic", server)
        report = drive(ui, "check_ui.cjs", ui.artifacts() / "nodes_registry_folder.png", "SDEEditResample",
                       *PACK_NODE_IDS)
    check_registered(report)


def test_example_workflows_load_as_the_graphs_the_server_tier_runs(ui, drive):
    from workflows import OUT_DIR, WORKFLOWS, Settings

    files = sorted(OUT_DIR.glob("*.json"))
    assert {f.stem for f in files} == set(WORKFLOWS)
    shots = ui.artifacts() / "workflow_"
    report = drive(ui, "check_workflows.cjs", shots, *files)
    for f in files:
        want = WORKFLOWS[f.stem](Settings())
        got = {nid: {"class_type": n["class_type"], "inputs": n["inputs"]}
               for nid, n in report["prompts"][f.name].items()}
        assert got == want, f"{f.name}: the {ui.tag} frontend makes another graph of it"
        assert (ui.artifacts() / f"workflow_{f.stem}.png").stat().st_size > 10_000
    # A linked widget input shows as a labelled socket, its widget greyed out: no text box left on screen (the
    # linked `points` of SDE-Drag in the shapes example was one, reading "[]").
    linked = report["linkedWidgets"]
    assert {"node": "SDEEditSDEDrag", "input": "points"} in [{k: w[k] for k in ("node", "input")} for w in linked]
    assert not [w for w in linked if w["dom"]], linked
    # What a newer frontend asks of this older server and does not get, for the docs (not a failure).
    (ui.artifacts() / "missing_routes.json").write_text(json.dumps(sorted(set(report["missing"])), indent=1))
