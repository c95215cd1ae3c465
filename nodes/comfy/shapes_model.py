"""The pack's shapes model as a real ComfyUI MODEL and VAE (the shapes loader's ComfyUI side).

The UNet of shapes/unet.py inside a `comfy.model_base.BaseModel` (EPS, `ModelSamplingDiscrete` with SD's
scaled_linear schedule) in a `ModelPatcher`, so every node of this pack and core samplers run on it
unchanged; and ComfyUI's own pixel-space VAE (`comfy/pixel_space_convert.py`, recognised by
`comfy.sd.VAE`): its LATENT is the image itself, [B, 3, H, W] in [−1, 1].
"""

from __future__ import annotations

import json
import pathlib

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models_base
import torch

from ...shapes.unet import ShapesUNet


class ComfyShapesUNet(torch.nn.Module):
    """The UNet as BaseModel calls a diffusion model: (x, t, context=…) → ε̂; context [B, 1, classes + 1]."""

    def __init__(self, channels=(32, 64, 128), blocks=2, n_classes=0, device=None, operations=None, dtype=None,
                 **_):
        super().__init__()
        self.net = ShapesUNet(tuple(channels), blocks, n_classes, ops=operations or torch.nn)
        self.dtype = dtype or torch.float32
        self.net.to(device=device, dtype=self.dtype)

    def forward(self, x, timesteps, context=None, **_):
        y = None
        if self.net.n_classes and context is not None:
            y = context[:, 0, : self.net.n_classes + 1]
        return self.net(x, timesteps, y)


class ShapesModelConfig(comfy.supported_models_base.BASE):
    """SD1.5's discrete schedule ('linear' in ComfyUI = SD's scaled_linear), 3-channel pixel latents."""

    unet_config = {}
    sampling_settings = {"beta_schedule": "linear", "linear_start": 0.00085, "linear_end": 0.012, "timesteps": 1000}
    latent_format = comfy.latent_formats.ChromaRadiance  # 3 channels, identity process_in / process_out
    supported_inference_dtypes = [torch.float32]
    memory_usage_factor = 1.0


def load_shapes_model(path: str | pathlib.Path):
    """(ModelPatcher, VAE, metadata) of a shapes safetensors file written by shapes/training.py."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        sd = {k: f.get_tensor(k).float() for k in f.keys()}
    config = json.loads(meta["config"])
    model_config = ShapesModelConfig(config)
    model = comfy.model_base.BaseModel(model_config, comfy.model_base.ModelType.EPS,
                                       device=comfy.model_management.unet_offload_device(),
                                       unet_model=ComfyShapesUNet)
    model.diffusion_model.net.load_state_dict(sd)
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                               offload_device=comfy.model_management.unet_offload_device())
    return patcher, pixel_space_vae(), meta


def pixel_space_vae() -> comfy.sd.VAE:
    """ComfyUI's own pixel-space VAE: IMAGE [B, H, W, 3] in 0..1 ↔ LATENT [B, 3, H, W] in −1..1."""
    return comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})
