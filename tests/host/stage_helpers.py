"""Shared by the host tier's stage tests: the model families and short calls of the pack's nodes."""

from __future__ import annotations

import torch
from inprocess import CallCounter  # noqa: F401  (the tests' counter: the one the benchmarks use)

FAMILIES = ("eps", "v", "flow16", "flow4")


def build_family_models(host):
    """{family: (model, positive, negative, latent)}, built with core nodes only."""
    out = {}
    with torch.inference_mode():
        for fam in FAMILIES:
            model, clip, vae = host.checkpoint("sd3" if fam == "flow16" else "sd15")
            if fam == "v":
                model = host.node("ModelSamplingDiscrete")().patch(model, "v_prediction", False)[0]
            elif fam == "flow4":
                model = host.node("ModelSamplingSD3")().patch(model, 3.0)[0]
            encode = host.node("CLIPTextEncode")().encode
            pos, neg = encode(clip, "a red disc on grey")[0], encode(clip, "")[0]
            gen = torch.Generator().manual_seed(1)
            image = torch.rand(2, 64, 64, 3, generator=gen)
            latent = host.node("VAEEncode")().encode(vae, image)[0]
            out[fam] = (model, pos, neg, latent)
    return out


def call(host, node_id: str, **kwargs):
    return host.call(node_id, **kwargs)


def record(host, model, pos, neg, latent, *, cfg=1.0, schedule="constant", steps=5, t0=0.6, seed=1,
           batch_size=0, precision="float32", independent=False):
    return call(host, "SDEEditCycleSDERecord", model=model, positive=pos, negative=neg, cfg=cfg,
                cfg_schedule=schedule, latent=latent, t0=t0, steps=steps, seed=seed, scheduler="simple",
                batch_size=batch_size, independent_noise=independent, precision=precision)


def resample(host, model, pos, neg, latent, traj, method, *, cfg=1.0, schedule="constant", seed=0, mask=None):
    kw = {"mask": mask} if mask is not None else {}
    return call(host, "SDEEditResample", model=model, positive=pos, negative=neg, cfg=cfg, cfg_schedule=schedule,
                latent=latent, trajectory=traj, method=method, seed=seed, **kw)[0]


def max_err(a: dict, b: dict) -> float:
    return float((a["samples"] - b["samples"]).abs().max())

