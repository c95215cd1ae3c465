"""Every example workflow runs through the real server (on the tiny SD1.5; the flow-model graphs on the
tiny SD3), and the files are current."""

import io

import numpy as np
import pytest
from hostlib import CHECKPOINTS, ROOT
from PIL import Image
from workflows import OUT_DIR, WORKFLOWS, Settings, render_all

TINY = Settings(ckpt=CHECKPOINTS["sd15"], image="wf_input.png", steps=3,
                points='[{"source": [16, 32], "target": [40, 32]}]', flow_ckpt=CHECKPOINTS["sd3"], flow_steps=4,
                shapes_size=64)


@pytest.fixture(scope="module")
def input_image(comfy_server):
    """A 64 px RGBA picture whose alpha holds an inpainting mask (LoadImage: mask = 1 - alpha)."""
    yy, xx = np.mgrid[0:64, 0:64] / 64
    rgb = np.stack([xx, yy, 1 - xx], -1) * 200 + 30
    alpha = np.full((64, 64), 255)
    alpha[20:44, 20:44] = 0  # the hole to inpaint
    Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA").save(comfy_server.dirs["input"] / TINY.image)
    return TINY.image


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_example_workflow_runs(comfy_server, input_image, name):
    entry = comfy_server.run(WORKFLOWS[name](TINY))
    (meta, png), = [(m, png) for m, png in comfy_server.images(entry) if m["type"] == "output"]  # not previews
    assert meta["subfolder"] == "sde_edit"
    assert Image.open(io.BytesIO(png)).size == (64, 64)


def test_reconstruction_workflow_gives_back_the_input(comfy_server, input_image):
    graph = WORKFLOWS["sde_edit_reconstruction"](TINY)
    graph["30"] = {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}}
    graph["31"] = {"class_type": "SaveImage", "inputs": {"images": ["30", 0], "filename_prefix": "direct"}}
    images = {meta["filename"].split("_")[0]: np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
              for meta, png in comfy_server.images(comfy_server.run(graph))}
    assert np.abs(images["reconstruction"] - images["direct"]).max() <= 1


def test_example_files_are_current(comfy_server):
    files = render_all(comfy_server.object_info())
    on_disk = {p.name: p.read_text() for p in OUT_DIR.glob("*.json")}
    stale = sorted(n for n in files if on_disk.get(n) != files[n]) + sorted(set(on_disk) - set(files))
    assert not stale, f"example_workflows/ is out of date ({stale}): run `make workflows` in {ROOT}"
