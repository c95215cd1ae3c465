"""Make full-size checkpoints with random weights from a fixed seed, for speed and memory measurements.

A checkpoint with a real architecture and random weights costs exactly what the real one costs, and needs
no download. Built with ComfyUI's own model classes and checked by ComfyUI's own detection:

- ``sde_edit_full_sd15.safetensors``: SD1.5, the full 860M-parameter UNet (ComfyUI's SD15 configuration),
  the full CLIP-L text encoder and the full SD VAE (AutoencoderKL), fp16 (about 2 GB; 1 to 2 minutes here).

SDXL (a 2.6B UNet and two text encoders, about 7 GB), an SD3-medium-sized MMDiT and Flux (12B, 24 GB in
fp16) are not built: the first two would fit this machine's disk but not its time for a CPU measurement, and
Flux does not fit its 24 GiB of memory. The images are noise; the files are for timing, never for judging edits.

Usage: python make_full_checkpoints.py --comfy PATH/TO/ComfyUI --out DIR [--verify]
(`make checkpoints-full` builds them into the test host's models/checkpoints/, once.)
"""

from __future__ import annotations

import sys

from make_tiny_checkpoints import SEED, _clip_l, _materialize, main

# ComfyUI's own SD15 UNet configuration (comfy/model_detection.py), which its detection reads back.
SD15_UNET = {
    "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320, "num_res_blocks": [2, 2, 2, 2],
    "channel_mult": [1, 2, 4, 4], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "use_linear_in_transformer": False,
    "context_dim": 768, "num_heads": 8, "use_spatial_transformer": True, "legacy": False, "adm_in_channels": None,
    "use_temporal_resblock": False, "use_temporal_attention": False, "use_checkpoint": False,
}
SD_VAE = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
          "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}


def sd15_full() -> dict:
    import comfy.ops
    import torch
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    unet = UNetModel(**SD15_UNET, dtype=torch.float32, device="meta", operations=comfy.ops.disable_weight_init)
    sd = _materialize(unet, "model.diffusion_model.", SEED + 1000)
    sd.update(_clip_l("cond_stage_model.transformer."))
    with torch.device("meta"):
        vae = AutoencoderKL(ddconfig=SD_VAE, embed_dim=4)
    sd.update(_materialize(vae, "first_stage_model.", SEED + 1004))
    return sd


CHECKPOINTS = {"sde_edit_full_sd15.safetensors": (sd15_full, "SD15")}


if __name__ == "__main__":
    sys.exit(main(checkpoints=CHECKPOINTS, tag="sde_edit_full", description=__doc__))
