"""The input image's LoRA with SDE-Drag's falling strength, on real ComfyUI models: equal to a merged LoRA at
lora_min = 1, to no LoRA at strength 0, the strength of every call read back from the layer's output, record
and replay at the same strength, the calls unchanged, and the trainer deterministic and side-effect free."""

from __future__ import annotations

import json
import math
import pathlib

import pytest
import torch
from stage_helpers import CallCounter, call, max_err, record, resample

ROOT = pathlib.Path(__file__).resolve().parents[2]
PTS = json.dumps([{"source": [10, 16], "target": [14, 16]}])  # the shapes scene's disc, 4 px right: 2 sub-steps


def train(host, model, pos, latent, steps=100, lr=2e-4, seed=0, rank=4):
    return call(host, "SDEEditTrainImageLoRA", model=model, positive=pos, latent=latent, steps=steps, rank=rank,
                learning_rate=lr, seed=seed, training_dtype="float32")[0]


def drag(host, model, pos, neg, latent, points=PTS, **kw):
    args = {"t0": 0.6, "steps": 4, "step_size": 2.0, "r": 3, "alpha": 1.1, "beta": 0.3, "cfg": 3.0, "seed": 0,
            "method": "sde", "multi_point": "simultaneous", "scheduler": "simple", "precision": "float32"} | kw
    return call(host, "SDEEditSDEDrag", model=model, positive=pos, negative=neg, latent=latent, points=points,
                **args)[0]


@pytest.fixture(scope="module")
def shapes(host):
    """(model, vae, positive, negative, latent of a red-disc scene, its LoRA trained at the paper's settings)."""
    model, vae = call(host, "SDEEditLoadShapesModel", weights="shapes_cond_32.safetensors")
    pos, neg = call(host, "SDEEditShapesPrompt", text="red disc")[0], call(host, "SDEEditShapesPrompt", text="")[0]
    image, _ = call(host, "SDEEditShapesScene", text="red disc", x=0.3, y=0.5, radius=0.15, seed=0, size=32)
    latent = call(host, "VAEEncode", vae=vae, pixels=image)[0]
    return model, vae, pos, neg, latent, train(host, model, pos, latent)


def test_lora_min_one_equals_the_lora_merged_at_strength_one(host, shapes):
    model, vae, pos, neg, latent, lora = shapes
    merged = call(host, "LoraModelLoader", model=model, lora=lora, strength_model=1.0)[0]
    for method in ("sde", "ode"):
        want = drag(host, merged, pos, neg, latent, vae=vae, method=method)
        got = drag(host, model, pos, neg, latent, vae=vae, method=method, lora=lora, lora_min=1.0)
        assert max_err(got, want) <= 1e-6, (method, max_err(got, want))
        assert max_err(got, drag(host, model, pos, neg, latent, vae=vae, method=method)) > 1e-2  # the LoRA acts


def test_strength_zero_equals_no_lora_and_the_falling_strength_differs_from_both(host, shapes):
    model, vae, pos, neg, latent, lora = shapes
    plain = drag(host, model, pos, neg, latent, vae=vae)
    assert max_err(drag(host, model, pos, neg, latent, vae=vae, lora=lora, lora_strength=0.0), plain) == 0.0
    falling = drag(host, model, pos, neg, latent, vae=vae, lora=lora, lora_min=0.5)
    constant = drag(host, model, pos, neg, latent, vae=vae, lora=lora, lora_min=1.0)
    assert max_err(falling, plain) > 1e-2 and max_err(falling, constant) > 1e-3


@pytest.mark.parametrize("lora_min, strength", [(0.5, 1.0), (0.2, 0.8)])
def test_the_strength_of_every_call_follows_the_cosine(host, shapes, lora_min, strength):
    """Read back from outside: a forward hook on one patched Linear solves output − W·x − b = s·ΔW·x for s, and a
    pre-hook on the diffusion model gives the call's timestep t; s must be strength·(1 − (1 − lmin)(1 − cos πu)/2)
    with u = t / t(σ0), σ0 the grid's top (the first call)."""
    model, vae, pos, neg, latent, lora = shapes
    name = "diffusion_model.net.time_mlp.0"
    layer = model.model.get_submodule(name)
    up, down, alpha = (lora[f"{name}.{k}"].float() for k in ("lora_up.weight", "lora_down.weight", "alpha"))
    delta = up @ down * (float(alpha) / up.shape[1])
    seen_t, seen_s = [], []

    def pre(module, args, kwargs):
        seen_t.append(float(args[1].reshape(-1)[0]))

    def post(module, args, out):
        x = args[0].float()
        residual = (out.float() - torch.nn.functional.linear(x, layer.weight.float(), layer.bias.float())).flatten()
        direction = torch.nn.functional.linear(x, delta).flatten()
        seen_s.append(float(residual @ direction / (direction @ direction)))

    handles = [model.model.diffusion_model.register_forward_pre_hook(pre, with_kwargs=True),
               layer.register_forward_hook(post)]
    try:
        drag(host, model, pos, neg, latent, vae=vae, lora=lora, lora_min=lora_min, lora_strength=strength)
    finally:
        for h in handles:
            h.remove()
    assert len(seen_s) == len(seen_t) == 2 * 4  # 2 sub-steps (pixel-space latent, 2 px each) of 4 steps
    t_top = seen_t[0]
    for t, s in zip(seen_t, seen_s, strict=True):
        u = t / t_top
        want = strength * (1 - (1 - lora_min) * (1 - math.cos(math.pi * u)) / 2)
        assert s == pytest.approx(want, abs=2e-3), (t, s, want)
    assert seen_s[0] == pytest.approx(lora_min * strength, abs=2e-3)  # lora_min at t0
    assert seen_s[3] > seen_s[2] > seen_s[1] > seen_s[0]  # rising towards the clean image, in each sub-step


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_the_lora_leaves_the_model_calls_unchanged(host, shapes, method):
    model, vae, pos, neg, latent, lora = shapes
    counter = CallCounter(model)
    drag(host, counter.model, pos, neg, latent, vae=vae, method=method)
    plain = list(counter.calls)
    counter.calls.clear()
    drag(host, counter.model, pos, neg, latent, vae=vae, method=method, lora=lora)
    assert counter.calls == plain and plain


@pytest.fixture(scope="module")
def sd_lora(host, family_models):
    """A LoRA of the tiny SD1.5, 8 steps at a high learning rate (so that it visibly changes the model)."""
    model, pos, _, latent = family_models["eps"]
    return train(host, model, pos, latent, steps=8, lr=1e-2)


def test_record_and_replay_use_the_same_strength_per_level(host, family_models, sd_lora):
    """Cycle-SDE with the LoRA in both stages reconstructs the input; without it in stage 2 it does not. With a
    LoRA the recording makes one call per level even where batch_size asks for all steps at once."""
    model, pos, neg, latent = family_models["eps"]
    counter = CallCounter(model)
    x_t0, traj = record(host, counter.model, pos, neg, latent, cfg=3.0, steps=5, batch_size=0, precision="float64")
    assert len(counter.calls) == 1  # without a LoRA: all five steps in one call
    counter.calls.clear()
    kw = {"model": counter.model, "positive": pos, "negative": neg, "cfg": 3.0, "cfg_schedule": "constant",
          "latent": latent, "t0": 0.6, "steps": 5, "seed": 1, "scheduler": "simple", "batch_size": 0,
          "independent_noise": False, "precision": "float64"}
    x_t0, traj = call(host, "SDEEditCycleSDERecord", **kw, lora=sd_lora)
    assert counter.calls == [2 * latent["samples"].shape[0]] * 5
    back = call(host, "SDEEditResample", model=model, positive=pos, negative=neg, cfg=3.0, cfg_schedule="constant",
                latent=x_t0, trajectory=traj, method="cycle_sde", seed=0, lora=sd_lora)[0]
    assert max_err(back, latent) <= 1e-3, max_err(back, latent)
    assert max_err(resample(host, model, pos, neg, x_t0, traj, "cycle_sde", cfg=3.0), latent) > 1e-2


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_the_wired_chain_equals_the_composite_with_a_lora(host, family_models, fam):
    model, pos, neg, latent = family_models[fam]
    lora = train(host, model, pos, latent, steps=4, lr=1e-2)
    points = json.dumps([{"source": [12, 12], "target": [28, 20]}])  # one sub-step
    common = {"cfg": 3.0, "cfg_schedule": "linear", "latent": latent, "t0": 0.6, "steps": 4, "seed": 7,
              "scheduler": "simple", "batch_size": 1, "independent_noise": False, "precision": "float64"}
    x_t0, traj = call(host, "SDEEditCycleSDERecord", model=model, positive=pos, negative=neg, lora=lora, **common)
    pasted = call(host, "SDEEditDragCopyPaste", model=model, latent=x_t0, trajectory=traj, points=points, r=1,
                  alpha=1.1, beta=0.3, seed=7)[0]
    chain = call(host, "SDEEditResample", model=model, positive=pos, negative=neg, cfg=3.0, cfg_schedule="linear",
                 latent=pasted, trajectory=traj, method="cycle_sde", seed=0, lora=lora)[0]
    one = drag(host, model, pos, neg, latent, points=points, steps=4, r=1, seed=7, precision="float64",
               grid="scheduler", square_noise="recorded", lora=lora)
    assert max_err(one, chain) <= 1e-4 * (1 + float(chain["samples"].abs().max())), max_err(one, chain)
    assert max_err(one, drag(host, model, pos, neg, latent, points=points, steps=4, r=1, seed=7,
                             precision="float64", grid="scheduler", square_noise="recorded")) > 1e-4


def test_training_is_deterministic_and_changes_none_of_its_inputs(host, family_models):
    model, pos, _, latent = family_models["flow16"]
    before = {k: v.clone() for k, v in model.model.state_dict().items()}
    samples = latent["samples"].clone()
    a, b = (train(host, model, pos, latent, steps=3, lr=1e-2, seed=5) for _ in range(2))
    c = train(host, model, pos, latent, steps=3, lr=1e-2, seed=6)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if k.endswith("lora_up.weight"))
    assert all(torch.equal(v, before[k]) for k, v in model.model.state_dict().items())
    assert torch.equal(latent["samples"], samples)


def test_a_lora_file_loads_and_a_lora_of_another_model_is_refused(host, family_models, sd_lora, tmp_path):
    import folder_paths
    import safetensors.torch

    folder = tmp_path / "loras"  # a loras folder of the test's own, never ComfyUI's tree
    folder.mkdir()
    folder_paths.add_model_folder_path("loras", str(folder))
    safetensors.torch.save_file({k: v.contiguous() for k, v in sd_lora.items()}, folder / "sde_edit_test.safetensors")
    (loaded,) = call(host, "SDEEditLoadLoRA", lora_name="sde_edit_test.safetensors")
    assert loaded.keys() == sd_lora.keys() and all(torch.equal(loaded[k], sd_lora[k]) for k in loaded)
    model, pos, neg, latent = family_models["flow16"]
    with pytest.raises(ValueError, match="lora: none of its .* fits this model"):
        drag(host, model, pos, neg, latent, lora=loaded)  # an SD1.5 LoRA on SD3
    with pytest.raises(ValueError, match="lora: expected a LORA_MODEL"):
        drag(host, model, pos, neg, latent, lora="my_lora.safetensors")
    with pytest.raises(ValueError, match="lora_name"):
        call(host, "SDEEditLoadLoRA", lora_name="missing.safetensors")


def test_core_train_lora_weights_work_too(host, family_models):
    """Core Train LoRA's output (its LoRA plus bias and norm diffs) drives the lora input as well: at lora_min 1
    the drag equals core Load LoRA at strength 1. (Two latents: core Train LoRA fails on a single one in
    ComfyUI 0.3.75, Comfy-Org/ComfyUI#11124.)"""
    import comfy.weight_adapter

    model, pos, neg, latent = family_models["eps"]
    one = {"samples": latent["samples"][:1]}
    cls = host.node("TrainLoraNode")
    with torch.inference_mode(False):
        out = cls.execute(model=[model], latents=[one, one], positive=[pos], batch_size=[1], steps=[2],
                          grad_accumulation_steps=[1], learning_rate=[1e-2], rank=[2], optimizer=["AdamW"],
                          loss_function=["MSE"], seed=[0], training_dtype=["fp32"], lora_dtype=["fp32"],
                          algorithm=[next(iter(comfy.weight_adapter.adapter_maps))], gradient_checkpointing=[False],
                          existing_lora=["[None]"])
    lora = out.result[1]
    assert any(k.endswith(".diff_b") for k in lora)  # not only LoRA matrices
    points = json.dumps([{"source": [12, 12], "target": [28, 20]}])
    merged = call(host, "LoraModelLoader", model=model, lora=lora, strength_model=1.0)[0]
    want = drag(host, merged, pos, neg, one, points=points, steps=3, r=1)
    got = drag(host, model, pos, neg, one, points=points, steps=3, r=1, lora=lora, lora_min=1.0)
    assert max_err(got, want) <= 1e-5, max_err(got, want)
    assert max_err(got, drag(host, model, pos, neg, one, points=points, steps=3, r=1)) > 1e-4
