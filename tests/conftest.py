"""Test tiers by folder: unit/ (math only), host/ (in-process ComfyUI), server/ and browser/ (HTTP).

Each test gets its tier's marker from its folder, so `pytest -m unit` and friends select a tier.
The repository root and scripts/ go at the END of sys.path: ComfyUI's own top-level `nodes`
module must win over this pack's `nodes/` package when the host tier puts ComfyUI first.
"""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "scripts"):
    if str(p) not in sys.path:
        sys.path.append(str(p))

TIERS = ("unit", "host", "server", "browser")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = pathlib.Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory):
    """One real ComfyUI server for the server and browser tiers, stopped by its PID at the end."""
    from hostlib import ComfyServer

    server = ComfyServer(tmp_path_factory.mktemp("comfy_server")).start()
    try:
        info = server.object_info()
        from pack_nodes import PACK_NODE_IDS

        missing = sorted(set(PACK_NODE_IDS) - set(info))
        if missing:
            raise RuntimeError(f"the pack's nodes are missing from /object_info: {missing}\n{server.log_tail(80)}")
        yield server
    finally:
        server.stop()
