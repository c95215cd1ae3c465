"""The browser tier runs on two frontends, each in both renderers.

- 1.32.9, the frontend ComfyUI 0.3.75 pins (served by the session's `comfy_server`), and 1.58.1, a current one
  (unpacked by setup_host.sh into .host/frontend/, served by a second server with --front-end-root);
- the classic canvas and Nodes 2.0 (Vue nodes: the setting Comfy.VueNodes.Enabled).

`ui` gives a test one (frontend, renderer) pair; `drive` runs one of the node scripts here against it and
returns its report after the checks every script shares: no uncaught page error, and no console error that
names the pack.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest
from hostlib import FRONTENDS, HOST, NEWER_FRONTEND, PINNED_FRONTEND, ROOT, ComfyServer, browser_script

NODE_MODULES = HOST / "node" / "node_modules"
MODES = ("classic", "vue")
# Console errors that concern the pack: its scripts, its nodes, or an extension registered twice.
PACK_WORDS = ("sde_edit", "sde-edit", "SDEEdit", "drag_points", "already registered")


@dataclass(frozen=True)
class UI:
    frontend: str
    mode: str
    server: ComfyServer

    @property
    def tag(self) -> str:
        return f"{self.frontend}-{self.mode}"

    def artifacts(self):
        """test-artifacts/browser/<frontend>-<mode>/, for this pair's screenshots."""
        out = ROOT / "test-artifacts" / "browser" / self.tag
        out.mkdir(parents=True, exist_ok=True)
        return out


@pytest.fixture(scope="session")
def newer_frontend_server(tmp_path_factory):
    root = FRONTENDS[NEWER_FRONTEND]
    if not (root / "index.html").is_file():
        pytest.fail(f"the frontend {NEWER_FRONTEND} is missing from {root}: run `make setup`")
    with ComfyServer(tmp_path_factory.mktemp("comfy_server_newer_frontend"),
                     extra_args=("--front-end-root", str(root))) as server:
        yield server


@pytest.fixture(scope="session", params=sorted(FRONTENDS))
def frontend(request, comfy_server) -> tuple[str, ComfyServer]:
    if request.param == PINNED_FRONTEND:
        return request.param, comfy_server
    return request.param, request.getfixturevalue("newer_frontend_server")


@pytest.fixture(params=MODES)
def ui(request, frontend) -> UI:
    version, server = frontend
    return UI(version, request.param, server)


@pytest.fixture(scope="session")
def make_ui():
    """UI(frontend, mode, server), for a test that starts a server of its own."""
    return UI


def pack_console_errors(report: dict) -> list[str]:
    return [m for m in report["console"] if any(w.lower() in m.lower() for w in PACK_WORDS)]


@pytest.fixture(scope="session")
def drive():
    """drive(ui, "script.cjs", *args, timeout=...) -> the script's JSON report, checked."""
    if shutil.which("node") is None or not (NODE_MODULES / "playwright-core").exists():
        pytest.fail("node and playwright-core are needed for the browser tier: run `make setup`")

    def run(ui: UI, script: str, *args, timeout: float = 300) -> dict:
        try:
            report = browser_script(script, ui.server.url, ui.mode, *args, timeout=timeout)
        except RuntimeError as e:
            pytest.fail(f"on {ui.tag}: {e}\n{ui.server.log_tail(30)}")
        assert report["frontend"] == {"version": ui.frontend, "vue": ui.mode == "vue"}, report["frontend"]
        assert not report["errors"], f"page errors on {ui.tag}: {report['errors']}"
        assert not pack_console_errors(report), f"console errors about the pack on {ui.tag}: {report['console']}"
        return report

    return run
