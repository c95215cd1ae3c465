"""The pack under the folder names users install it as: a plain clone (`sde-edit`) and the name
ComfyUI-Manager or the registry gives it (`ComfyUI-SDE-Edit`).

ComfyUI 0.3.75 registers a web folder twice when a pack declares it both in `WEB_DIRECTORY` and in
pyproject's `[tool.comfy] web`: once under the folder's name, once under the project's. The keys are
the same only when the folder is called `sde-edit`; under any other name the frontend then loads each
script twice and refuses the second copy ("Extension named … already registered"). The pack declares
it once, in `WEB_DIRECTORY`, which every ComfyUI release reads.
"""

import pathlib
import urllib.request

import pytest
from hostlib import ROOT, ComfyServer
from pack_nodes import PACK_NODE_IDS

SCRIPTS = sorted(p.name for p in (ROOT / "web").glob("*.js"))


def served_scripts(server: ComfyServer) -> list[str]:
    return [url for url in server.get_json("/extensions") if any(url.endswith("/" + name) for name in SCRIPTS)]


@pytest.mark.parametrize("folder", ["sde-edit", "ComfyUI-SDE-Edit"])
def test_each_web_script_is_served_once_and_the_nodes_load_under_any_folder_name(tmp_path: pathlib.Path, folder):
    (tmp_path / "custom_nodes").mkdir()
    (tmp_path / "custom_nodes" / folder).symlink_to(ROOT, target_is_directory=True)
    with ComfyServer(tmp_path, extra_args=("--base-directory", str(tmp_path))) as server:
        urls = served_scripts(server)
        assert sorted(url.rsplit("/", 1)[1] for url in urls) == SCRIPTS, urls  # each file exactly once
        assert all(url.startswith(f"/extensions/{folder}/") for url in urls), urls
        for url in urls:
            with urllib.request.urlopen(server.url + url, timeout=10) as r:
                assert r.read() == (ROOT / "web" / url.rsplit("/", 1)[1]).read_bytes(), url
        missing = sorted(set(PACK_NODE_IDS) - set(server.object_info()))
        assert not missing, f"under {folder}/ the nodes {missing} did not load:\n{server.log_tail()}"
