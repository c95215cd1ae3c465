"""The browser tier: ComfyUI's frontend, served by the real server, registers this pack's nodes."""

import json
import os
import shutil
import subprocess

import pytest
import tomllib
from hostlib import HOST, ROOT
from pack_nodes import PACK_NODE_IDS

SCRIPT = ROOT / "tests" / "browser" / "check_ui.cjs"
NODE_MODULES = HOST / "node" / "node_modules"


def run_check(url: str, screenshot, add_id: str, node_ids) -> dict:
    if shutil.which("node") is None or not (NODE_MODULES / "playwright-core").exists():
        pytest.fail("node and playwright-core are needed for the browser tier: run `make setup`")
    env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
    proc = subprocess.run(["node", str(SCRIPT), url, str(screenshot), add_id, *node_ids], env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"browser check failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_frontend_registers_the_pack_nodes(comfy_server, tmp_path):
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "browser_nodes.png"
    result = run_check(comfy_server.url, shot, "SDEEditResample", PACK_NODE_IDS)
    missing = [nid for nid, cat in result["registered"].items() if cat is None]
    assert not missing, f"frontend lacks {missing}; page errors: {result['errors']}"
    assert all(cat.startswith("sde_edit") for cat in result["registered"].values()), result["registered"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert result["extension"] == {"version": version, "trajectoryType": "SDE_TRAJECTORY"}, result  # web/ loaded
    added = result["added"]
    assert added is not None and "trajectory" in added["inputs"], added
    assert shot.stat().st_size > 10_000  # a real rendered page, not a blank


def test_example_workflows_load_in_the_frontend_as_the_graphs_the_server_tier_runs(comfy_server):
    from workflows import OUT_DIR, WORKFLOWS, Settings

    files = sorted(OUT_DIR.glob("*.json"))
    assert {f.stem for f in files} == set(WORKFLOWS)
    shot = ROOT / "test-artifacts" / "browser_workflow.png"
    shot.parent.mkdir(exist_ok=True)
    env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
    proc = subprocess.run(["node", str(ROOT / "tests" / "browser" / "check_workflows.cjs"), comfy_server.url, str(shot),
                           *map(str, files)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    prompts = json.loads(proc.stdout.strip().splitlines()[-1])["prompts"]
    for f in files:
        want = WORKFLOWS[f.stem](Settings())
        got = {nid: {"class_type": n["class_type"], "inputs": n["inputs"]} for nid, n in prompts[f.name].items()}
        assert got == want, f"{f.name}: the frontend makes another graph of it"
