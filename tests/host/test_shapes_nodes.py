"""The shapes models in ComfyUI: the pack's loader gives a real MODEL and a pixel-space VAE that core
nodes run unchanged, and core KSampler draws images of the world, of the class the prompt names."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
from PIL import Image
from stage_helpers import call, max_err, record, resample

from shapes import world

ROOT = pathlib.Path(__file__).resolve().parents[2]
WEIGHTS = "shapes_cond_32.safetensors"
PROMPTS = ("blue square", "red disc", "yellow square", "green disc")


@pytest.fixture(scope="module")
def shapes(host):
    """(model, vae) of the committed conditional 32 px model, through the pack's loader node."""
    if not (ROOT / "shapes" / "weights" / WEIGHTS).exists():
        pytest.fail(f"shapes/weights/{WEIGHTS} is missing: run python -m shapes.training (docs/shapes_training.md)")
    return call(host, "SDEEditLoadShapesModel", weights=WEIGHTS)


def test_the_weights_say_how_they_were_trained():
    record = json.loads((ROOT / "shapes" / "weights" / WEIGHTS).with_suffix(".json").read_text())
    assert record["settings"]["conditional"] and record["settings"]["size"] == 32
    assert record["steps"] > 0 and record["train_seconds"] > 0 and record["final_loss"] < 0.2
    assert len(record["loss_curve"]) == record["steps"] // record["loss_every"]


def test_the_model_is_a_comfyui_eps_model_on_the_sd15_schedule(host, shapes):
    import comfy.model_sampling

    model, vae = shapes
    ms = model.get_model_object("model_sampling")
    assert isinstance(ms, comfy.model_sampling.EPS)
    assert ms.sigma_max == pytest.approx(14.6146, abs=1e-3) and ms.sigma_min == pytest.approx(0.0292, abs=1e-3)
    assert model.model.latent_format.latent_channels == 3


def test_load_image_encode_decode_is_a_round_trip(host, shapes, tmp_path):
    import folder_paths

    _, vae = shapes
    img = world.render(world.random_scenes(2, 1), 32)[0].permute(1, 2, 0)
    Image.fromarray((img.numpy() * 255).round().astype(np.uint8)).save(
        pathlib.Path(folder_paths.get_input_directory()) / "shapes_scene.png")
    out = host.run_graph({
        "1": {"class_type": "SDEEditLoadShapesModel", "inputs": {"weights": WEIGHTS}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "shapes_scene.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 1]}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    })
    loaded, latent, decoded = out["2"][0], out["3"][0]["samples"], out["4"][0]
    assert latent.shape == (1, 3, 32, 32)
    torch.testing.assert_close(latent, loaded.permute(0, 3, 1, 2) * 2 - 1, atol=1e-6, rtol=0)
    torch.testing.assert_close(decoded, loaded, atol=1e-6, rtol=0)
    assert (loaded[0] - img).abs().max() <= 0.5 / 255 + 1e-6


def sample_prompt(host, text: str, batch: int, seed: int = 0, cfg: float = 3.0, steps: int = 20,
                  weights: str = WEIGHTS) -> torch.Tensor:
    """[B, 3, 32, 32] images in 0..1 drawn by core KSampler from the shapes model (core nodes + the pack's)."""
    out = host.run_graph({
        "1": {"class_type": "SDEEditLoadShapesModel", "inputs": {"weights": weights}},
        "2": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": text}},
        "3": {"class_type": "SDEEditShapesPrompt", "inputs": {"text": ""}},
        "4": {"class_type": "EmptyChromaRadianceLatentImage", "inputs": {"width": 32, "height": 32,
                                                                         "batch_size": batch}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0], "seed": seed,
            "steps": steps, "cfg": cfg, "sampler_name": "dpmpp_2m_sde", "scheduler": "karras", "denoise": 1.0}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 1]}},
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
    })
    return out["6"][0].permute(0, 3, 1, 2)


def test_ksampler_draws_the_world_and_the_class_the_prompt_names(host, shapes):
    colours = kinds = total = inside = 0
    smooth = []
    for i, text in enumerate(PROMPTS):
        images = sample_prompt(host, text, batch=6, seed=i)
        want = world.parse_prompt(text)
        smooth.append(world.smooth_share(images))
        inside += int(world.in_world(images).sum())
        for im in images:
            colour, kind, share = world.dominant_object(im)
            colours += colour == want % 4 and share > 0.02
            kinds += kind == want // 4
            total += 1
    smooth = torch.cat(smooth)
    print(f"shapes KSampler: smooth share {smooth.mean():.3f} (min {smooth.min():.3f}), in the world "
          f"{inside}/{total}, colour {colours}/{total}, kind {kinds}/{total}")
    assert smooth.mean() > 0.6 and inside >= 0.8 * total
    assert colours >= 0.8 * total
    assert kinds >= 0.6 * total


def test_the_unconditional_model_draws_the_world(host):
    if not (ROOT / "shapes" / "weights" / "shapes_uncond_32.safetensors").exists():
        pytest.skip("no unconditional shapes model committed yet")
    images = sample_prompt(host, "", batch=6, cfg=1.0, weights="shapes_uncond_32.safetensors")
    inside = world.in_world(images)
    print(f"unconditional: smooth share {world.smooth_share(images).mean():.3f}, in the world {int(inside.sum())}/6")
    assert inside.sum() >= 4


def test_the_tiny_random_checkpoint_does_not_draw_the_world(host):
    model, clip, vae = host.checkpoint("sd15")
    encode = host.node("CLIPTextEncode")().encode
    pos, neg = encode(clip, "blue square")[0], encode(clip, "")[0]
    with torch.inference_mode():
        latent = host.node("EmptyLatentImage")().generate(64, 64, 4)[0]
        samples = host.node("KSampler")().sample(model, 0, 6, 3.0, "euler_ancestral", "normal", pos, neg, latent)[0]
        images = host.node("VAEDecode")().decode(vae, samples)[0].permute(0, 3, 1, 2)
    share, inside = world.smooth_share(images), world.in_world(images)
    print(f"tiny random checkpoint: smooth share {share.mean():.3f}, in the world {int(inside.sum())}/{len(inside)}")
    assert inside.float().mean() <= 0.25


def test_cycle_sde_reconstructs_a_scene_on_the_shapes_model(host, shapes):
    model, vae = shapes
    pos = call(host, "SDEEditShapesPrompt", text="red disc")[0]
    neg = call(host, "SDEEditShapesPrompt", text="")[0]
    image = world.render(world.class_scenes(3, [0, 5]), 32).permute(0, 2, 3, 1)
    latent = host.node("VAEEncode")().encode(vae, image)[0]
    x_t0, traj = record(host, model, pos, neg, latent, cfg=3.0, steps=10)
    out = resample(host, model, pos, neg, x_t0, traj, "cycle_sde", cfg=3.0)
    assert max_err(out, latent) <= 1e-3, max_err(out, latent)


def test_a_prompt_that_is_not_a_class_says_what_to_write(host):
    with pytest.raises(ValueError, match="colour"):
        call(host, "SDEEditShapesPrompt", text="purple triangle")


def test_shapes_scene_draws_the_worlds_scene_and_its_mask(host):
    image, mask = call(host, "SDEEditShapesScene", text="blue square", x=0.6, y=0.4, radius=0.2, seed=3, size=48)
    scene = world.one_object_scene(3, "blue square", 0.6, 0.4, 0.2)
    assert image.shape == (1, 48, 48, 3) and mask.shape == (1, 48, 48)
    assert torch.equal(image, world.render(scene, 48).permute(0, 2, 3, 1))
    assert world.dominant_object(image[0].permute(2, 0, 1))[:2] == (world.COLOURS.index("blue"), 1)
    assert abs(float(mask.sum()) - (0.4 * 48) ** 2) < 0.05 * (0.4 * 48) ** 2  # a square of side 2r (anti-aliased)
    other = call(host, "SDEEditShapesScene", text="blue square", x=0.6, y=0.4, radius=0.2, seed=4, size=48)[0]
    assert not torch.equal(image, other)  # the seed draws the background


@pytest.mark.parametrize("kw, message", [
    ({"text": "purple disc"}, "not understood"),
    ({"text": ""}, "name the object"),
    ({"x": 0.05}, "must lie inside the image"),
    ({"radius": 0.45, "y": 0.5, "x": 0.5}, None),  # fits: no error
])
def test_shapes_scene_refuses_what_it_cannot_draw(host, kw, message):
    args = {"text": "red disc", "x": 0.3, "y": 0.5, "radius": 0.15, "seed": 0, "size": 32} | kw
    if message is None:
        call(host, "SDEEditShapesScene", **args)
        return
    with pytest.raises(ValueError, match=message):
        call(host, "SDEEditShapesScene", **args)
