"""Make the tiny test checkpoints from a fixed seed, with ComfyUI's own model classes.

Two single-file checkpoints that ComfyUI's own detection accepts (no download):

- ``sde_edit_tiny_sd15.safetensors``: detected as SD1.5 (EPS). A one-level UNet that keeps
  SD1.5's width (model_channels 320, context 768, which detection requires) with one res
  block, transformer depth 1 and no middle block; a full-shape CLIP-L (detection and the
  tokenizer need it); a 4-channel TAESD-shaped VAE.
- ``sde_edit_tiny_sd3.safetensors``: detected as SD3 (flow / CONST, shift 3). An MMDiT of
  depth 2 (hidden 128), CLIP-L only, a 16-channel TAESD-shaped VAE.

Weights are seeded random numbers: the images are noise. They exist for exactness and
plumbing tests, not to judge edits. Stored in fp16 to halve the files.

Usage: python make_tiny_checkpoints.py --comfy PATH/TO/ComfyUI --out DIR [--verify]
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

SEED = 20241127


def _init_tensor(name: str, shape: tuple[int, ...], gen):
    """A deterministic init: fan-in scaled normals for matrices, identity for norms, zero biases."""
    import torch

    leaf = name.rsplit(".", 1)[-1]
    if len(shape) >= 2:
        if "embedding" in name or "pos_embed" in name:
            return torch.randn(shape, generator=gen) * 0.02
        fan_in = math.prod(shape[1:])
        return torch.randn(shape, generator=gen) / math.sqrt(fan_in)
    if leaf == "bias" or name.endswith("vae_shift"):
        return torch.zeros(shape)
    return torch.ones(shape)


def _materialize(module, prefix: str, seed: int) -> dict:
    """State dict of a meta-device module filled from `seed`, keys sorted, under `prefix`."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    return {prefix + k: _init_tensor(k, shapes[k], gen).to(torch.float16) for k in sorted(shapes)}


def _clip_l(prefix: str) -> dict:
    import json

    import comfy.clip_model
    import comfy.ops
    import torch

    config = json.loads((pathlib.Path(comfy.clip_model.__file__).parent / "sd1_clip_config.json").read_text())
    m = comfy.clip_model.CLIPTextModel(config, torch.float32, "meta", comfy.ops.disable_weight_init)
    return _materialize(m, prefix, SEED + 1)


def _taesd(latent_channels: int) -> dict:
    import comfy.taesd.taesd
    import torch

    with torch.device("meta"):
        m = comfy.taesd.taesd.TAESD(latent_channels=latent_channels)
    return _materialize(m, "first_stage_model.", SEED + 2 + latent_channels)


def sd15() -> dict:
    import comfy.ops
    import torch
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    unet = UNetModel(
        image_size=32, in_channels=4, out_channels=4, model_channels=320, num_res_blocks=[1],
        channel_mult=[1], transformer_depth=[1], transformer_depth_output=[1, 1],
        transformer_depth_middle=-2, use_linear_in_transformer=False, context_dim=768, num_heads=8,
        num_head_channels=-1, use_spatial_transformer=True, legacy=False, adm_in_channels=None,
        use_temporal_resblock=False, use_temporal_attention=False, use_checkpoint=False,
        dtype=torch.float32, device="meta", operations=comfy.ops.disable_weight_init,
    )
    sd = _materialize(unet, "model.diffusion_model.", SEED)
    sd.update(_clip_l("cond_stage_model.transformer."))
    sd.update(_taesd(4))
    return sd


def sd3() -> dict:
    import comfy.ops
    import torch
    from comfy.ldm.modules.diffusionmodules.mmdit import OpenAISignatureMMDITWrapper

    depth = 2  # detection reads hidden size = 64 * depth
    mmdit = OpenAISignatureMMDITWrapper(
        patch_size=2, in_channels=16, out_channels=16, depth=depth, adm_in_channels=2048,
        context_embedder_config={"target": "torch.nn.Linear",
                                 "params": {"in_features": 4096, "out_features": 64 * depth}},
        pos_embed_max_size=64, num_patches=64 * 64, pos_embed_scaling_factor=None, input_size=None,
        x_block_self_attn_layers=[], dtype=torch.float32, device="meta", operations=comfy.ops.disable_weight_init,
    )
    sd = _materialize(mmdit, "model.diffusion_model.", SEED + 100)
    sd.update(_clip_l("text_encoders.clip_l.transformer."))
    sd.update(_taesd(16))
    return sd


CHECKPOINTS = {"sde_edit_tiny_sd15.safetensors": (sd15, "SD15"), "sde_edit_tiny_sd3.safetensors": (sd3, "SD3")}


def verify(path: pathlib.Path, expected: str) -> None:
    """Load with ComfyUI's own detection; fail loudly unless the family and all parts are found."""
    import comfy.sd

    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(path))
    family = type(model.model.model_config).__name__
    if family != expected or clip is None or vae is None:
        raise SystemExit(f"{path.name}: detected {family} (clip={clip is not None}, vae={vae is not None}), "
                         f"want {expected}")
    print(f"verified {path.name}: {family}, {type(model.get_model_object('model_sampling')).__name__}")


def main(argv=None, checkpoints: dict = CHECKPOINTS, tag: str = "sde_edit_tiny", description: str = __doc__) -> int:
    """Write `checkpoints` ({file name: (builder, family ComfyUI must detect)}) into --out (also the entry point of
    make_full_checkpoints.py, with its own)."""
    ap = argparse.ArgumentParser(description=description.splitlines()[0])
    ap.add_argument("--comfy", required=True, type=pathlib.Path, help="the ComfyUI folder")
    ap.add_argument("--out", required=True, type=pathlib.Path, help="where to write the checkpoints")
    ap.add_argument("--verify", action="store_true", help="load each file with ComfyUI's detection afterwards")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.comfy.resolve()))
    import comfy.cli_args

    comfy.cli_args.args.cpu = True
    import safetensors.torch

    args.out.mkdir(parents=True, exist_ok=True)
    for name, (build, family) in checkpoints.items():
        path = args.out / name
        tmp = path.with_suffix(".tmp")
        sd = build()
        unet = sum(v.numel() for k, v in sd.items() if k.startswith("model.diffusion_model."))
        safetensors.torch.save_file(sd, str(tmp), metadata={tag: family, "seed": str(SEED)})
        tmp.replace(path)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB, {unet / 1e6:.1f}M diffusion-model parameters)")
        if args.verify:
            verify(path, family)
    return 0


if __name__ == "__main__":
    sys.exit(main())
