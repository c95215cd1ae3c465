"""The host itself: ComfyUI's core KSampler on both tiny checkpoints, as graphs through the executor."""

import pytest
import torch


def txt2img_graph(ckpt: str, steps: int = 3, size: int = 64, seed: int = 7) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red disc", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": seed, "steps": steps, "cfg": 2.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "host_tier"}},
    }


@pytest.mark.parametrize("family, channels", [("sd15", 4), ("sd3", 16)])
def test_ksampler_graph_runs_on_tiny_checkpoint(host, family, channels):
    from hostlib import CHECKPOINTS

    out = host.run_graph(txt2img_graph(CHECKPOINTS[family]))
    latent = out["5"][0]["samples"]
    image = out["6"][0]
    assert latent.shape == (1, channels, 8, 8)
    assert image.shape == (1, 64, 64, 3)
    assert torch.isfinite(latent).all() and 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    # The same graph and seed give the same latent (a fresh executor, no cache).
    again = host.run_graph(txt2img_graph(CHECKPOINTS[family]))["5"][0]["samples"]
    assert torch.equal(latent, again)
    # A different seed gives a different one: the sampler really ran.
    other = host.run_graph(txt2img_graph(CHECKPOINTS[family], seed=8))["5"][0]["samples"]
    assert not torch.allclose(latent, other)


def test_checkpoints_are_detected_as_the_families_the_tests_rely_on(host):
    import comfy.model_sampling

    sd15, _, vae15 = host.checkpoint("sd15")
    sd3, _, vae3 = host.checkpoint("sd3")
    ms15, ms3 = sd15.get_model_object("model_sampling"), sd3.get_model_object("model_sampling")
    assert isinstance(ms15, comfy.model_sampling.EPS) and not isinstance(ms15, comfy.model_sampling.CONST)
    assert isinstance(ms3, comfy.model_sampling.CONST)
    assert sd15.model.latent_format.latent_channels == 4 and sd3.model.latent_format.latent_channels == 16
    assert vae15.downscale_ratio == 8 and vae3.downscale_ratio == 8
