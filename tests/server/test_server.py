"""The server tier: ComfyUI's own main.py on 127.0.0.1, driven over HTTP as a user's client would."""

import io

import numpy as np
import pytest
import torch
from hostlib import CHECKPOINTS, PromptFailed
from pack_nodes import PACK_NODE_IDS
from PIL import Image


def test_object_info_describes_every_pack_node(comfy_server):
    info = comfy_server.object_info()
    for node_id in PACK_NODE_IDS:
        node = info[node_id]
        assert node["category"].startswith("sde_edit/"), node_id
        assert node["description"], f"{node_id} has no description"
        for section in ("required", "optional"):
            for name, spec in node["input"].get(section, {}).items():
                assert len(spec) > 1 and spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
    assert "SDE_TRAJECTORY" in info["SDEEditCycleSDERecord"]["output"]
    assert "SDE_TRAJECTORY" in info["SDEEditResample"]["input"]["required"]["trajectory"][0]


def write_input_image(server, name: str, size: int = 64) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([xx, yy, 1 - xx], -1) * 0.6 + 0.2
    img[size // 4: size // 2, size // 4: size // 2] = [0.8, 0.1, 0.1]
    img = (np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1) * 255).astype(np.uint8)
    Image.fromarray(img).save(server.dirs["input"] / name)


def reconstruction_graph(ckpt: str, image: str, steps: int = 4, cfg: float = 2.0) -> dict:
    """Cycle-SDE record -> resample with nothing edited, beside a plain VAE round trip."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "LoadImage", "inputs": {"image": image}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red square", "clip": ["1", 1]}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "6": {"class_type": "SDEEditCycleSDERecord", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["3", 0], "cfg": cfg,
            "cfg_schedule": "linear", "t0": 0.6, "steps": steps, "seed": 3, "scheduler": "simple",
            "batch_size": 0, "independent_noise": False, "precision": "float32"}},
        "7": {"class_type": "SDEEditResample", "inputs": {
            "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["6", 0],
            "trajectory": ["6", 1], "method": "cycle_sde", "cfg": cfg, "cfg_schedule": "linear", "seed": 0}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["7", 0], "vae": ["1", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "cycle"}},
        "10": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}},
        "11": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": "direct"}},
    }


def test_cycle_sde_workflow_through_the_server_reconstructs_the_input(comfy_server):
    write_input_image(comfy_server, "server_in.png")
    entry = comfy_server.run(reconstruction_graph(CHECKPOINTS["sd15"], "server_in.png"))
    images = {meta["filename"].split("_")[0]: np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
              for meta, png in comfy_server.images(entry)}
    assert set(images) == {"cycle", "direct"}
    assert images["cycle"].shape == (64, 64, 3)
    # Exact reconstruction: the edited branch decodes to the plain VAE round trip, to 8-bit rounding.
    assert np.abs(images["cycle"] - images["direct"]).max() <= 1


def test_a_trajectory_from_another_model_fails_the_prompt_with_the_fix(comfy_server):
    write_input_image(comfy_server, "server_in.png")
    graph = reconstruction_graph(CHECKPOINTS["sd15"], "server_in.png", steps=2)
    # Record with the flow checkpoint (its own latent), replay with the SD1.5 model.
    graph["12"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINTS["sd3"]}}
    graph["13"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["12", 2]}}
    graph["14"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a red square", "clip": ["12", 1]}}
    graph["6"]["inputs"] |= {"model": ["12", 0], "latent": ["13", 0], "positive": ["14", 0], "negative": ["14", 0]}
    graph["7"]["inputs"]["latent"] = ["3", 0]
    with pytest.raises(PromptFailed) as failed:
        comfy_server.run(graph)
    text = str(failed.value)
    assert "SDEEditResample" in text and "record it again with this model" in text
    # The server is unharmed: the next good prompt runs.
    comfy_server.run(reconstruction_graph(CHECKPOINTS["sd15"], "server_in.png", steps=2))


def test_the_main_job_graph_runs_on_the_shapes_model(comfy_server):
    """`make demo` (no checkpoint) queues this graph on its own server; here on the shared one, at the demo's
    own settings, each panel scored against the exact answer of the demo's scene. The demo claims to show
    SDE-Drag next to ODE-Drag with each one's whole-image error, not that either wins (on its scene, fixed
    before any result was seen, SDE-Drag stops short of the target: README): so both keep a red object and
    the printed errors are the benchmark's; and at least one of the prompt change's tries is a red square in
    place, as the shipped example claims."""
    from demo import DEMO_TARGET, demo_scene, drag_graph, errors, output_panels

    from shapes import metrics, world

    scene, moved, reshaped = demo_scene()
    o = scene.shapes[0]
    points = [{"source": [o.cx * 32, o.cy * 32], "target": [DEMO_TARGET[0] * 32, DEMO_TARGET[1] * 32]}]
    graph = drag_graph(None, points, steps=20, t0=0.6, cfg=3.0, seed=0, r=round(o.r * 32) + 2,
                       change=("red disc", "red square"))
    images = output_panels(comfy_server, comfy_server.run(graph))
    assert set(images) == {"input", "arrows", "sde", "ode", "change1", "change2", "change3", "change4"}
    assert images.pop("arrows").size == (256, 256)  # Drag Points' preview: 32 px enlarged 8 times to be legible
    assert all(im.size == (32, 32) for im in images.values())

    def tensor(name):
        return torch.from_numpy(np.asarray(images[name], dtype=np.float32) / 255).permute(2, 0, 1)

    drag = metrics.drag_metrics(tensor("sde"), scene, moved, 0)
    ode = metrics.drag_metrics(tensor("ode"), scene, moved, 0)
    assert drag["lost"] == ode["lost"] == 0 and drag["wrong_colour"] == ode["wrong_colour"] == 0, (drag, ode)
    tries = [metrics.edit_metrics(tensor(f"change{k}"), scene, reshaped, 0) for k in range(1, 5)]
    assert any(m["class_ok"] == 1 and m["shift"] <= 3.0 for m in tries), tries
    answers = {k: world.render(v, 32)[0].permute(1, 2, 0).numpy() for k, v in (("drag", moved),
                                                                               ("change", reshaped))}
    errs = errors(images, answers)
    assert set(errs) == {"sde", "ode", "change1", "change2", "change3", "change4"}
    # what the demo prints is the benchmark's whole-image error (up to the PNG's 8-bit rounding)
    assert abs(errs["sde"] - drag["err"]) < 0.002 and abs(errs["ode"] - ode["err"]) < 0.002


def test_the_main_job_graph_runs(comfy_server):
    """`make demo --checkpoint NAME` queues this graph on its own server; here on the shared one, at 64 px."""
    from demo import drag_graph, draw_input

    draw_input(comfy_server.dirs["input"] / "demo_input.png", 64)
    points = [{"source": [32, 32], "target": [48, 32]}]
    graph = drag_graph("demo_input.png", points, steps=2, t0=0.6, cfg=3.0, seed=1, ckpt=CHECKPOINTS["sd15"])
    images = {meta["filename"].split("_")[1]: np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
              for meta, png in comfy_server.images(comfy_server.run(graph)) if meta["type"] == "output"}
    assert set(images) == {"arrows", "sde", "ode"} and images["sde"].shape == images["ode"].shape == (64, 64, 3)
    # Two edits, not one picture twice: SDE-Drag's injected noise makes it differ from ODE-Drag's deterministic
    # path even on the random-weight test checkpoint (whose pictures cannot be scored: the shapes test above is).
    assert np.abs(images["sde"] - images["ode"]).max() > 2, "SDE-Drag and ODE-Drag gave the same picture"
    source = np.asarray(Image.open(comfy_server.dirs["input"] / "demo_input.png").convert("RGB"), dtype=np.int16)
    assert images["arrows"].shape == (256, 256, 3)  # Drag Points' preview, enlarged 4 times (nearest)
    assert (images["arrows"] != source.repeat(4, 0).repeat(4, 1)).any()  # the arrow is drawn
