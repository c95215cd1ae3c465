"""SDE Edit DiffEdit Mask on real ComfyUI models of every family (tiny checkpoints, 64 px, batch 2), and
the DiffEdit-SDE example workflow through ComfyUI's executor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stage_helpers import FAMILIES, call, max_err
from test_stages import CallCounter

B, SIZE = 2, 64
# Random weights spread the prompts' difference evenly over the image (the soft map stays within about 0.3–0.9
# at the defaults' clamp factor 3): a mask at D > 0.9·mean(D) is partial on every family.
PARTIAL = {"clamp_factor": 1.0, "threshold": 0.9}


def diffedit(host, model, target, reference, latent, **kw):
    args = {"cfg": 7.5, "noises": 4, "noise_strength": 0.5, "clamp_factor": 3.0, "threshold": 0.5, "seed": 3,
            "batch_size": 0} | kw
    return call(host, "SDEEditDiffEditMask", model=model, target=target, reference=reference, latent=latent, **args)


def v1(host, node_id: str, **kwargs):
    """The first output of a core node written in the V1 style."""
    cls = host.node(node_id)
    with torch.inference_mode():
        return getattr(cls(), cls.FUNCTION)(**kwargs)[0]


@pytest.mark.parametrize("fam", FAMILIES)
def test_two_prompts_give_a_mask_at_image_size_on_every_family(host, family_models, fam):
    import comfy.model_management

    model, pos, neg, latent = family_models[fam]
    before = latent["samples"].clone()
    mask, soft = diffedit(host, model, pos, neg, latent, **PARTIAL)
    assert mask.shape == soft.shape == (B, SIZE, SIZE) and mask.dtype == soft.dtype == torch.float32
    assert float(soft.min()) >= 0 and float(soft.max()) <= 1.0
    assert torch.equal(mask, (soft > PARTIAL["threshold"]).float())
    for b in range(B):  # random weights: the prompts differ somewhere, not everywhere
        assert 0.02 < float(mask[b].mean()) < 0.98, float(mask[b].mean())
    dev = comfy.model_management.intermediate_device()
    assert mask.device == dev and soft.device == dev
    assert torch.equal(latent["samples"], before)
    # Nearest upscaling: each latent pixel is an 8×8 block, and Resample's bilinear resize to the latent
    # (nodes/comfy/model.py mask_to_latent) gives back exactly the latent values.
    blocks = soft.reshape(B, 8, 8, 8, 8)
    assert torch.equal(blocks, blocks[:, :, :1, :, :1].expand_as(blocks))
    back = torch.nn.functional.interpolate(mask[:, None], size=(8, 8), mode="bilinear", align_corners=False)
    assert torch.equal(back[:, 0], mask[:, ::8, ::8])


def test_guidance_scale_cancels_out_of_the_mask(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    _, soft_75 = diffedit(host, model, pos, neg, latent, cfg=7.5, **PARTIAL)
    mask_1, soft_1 = diffedit(host, model, pos, neg, latent, cfg=1.0, **PARTIAL)
    torch.testing.assert_close(soft_1, soft_75, rtol=1e-5, atol=1e-5)
    mask_0, _ = diffedit(host, model, pos, neg, latent, cfg=0.0, **PARTIAL)
    assert not mask_0.any() and mask_1.any()


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_identical_prompts_give_an_empty_mask(host, family_models, fam):
    model, pos, _, latent = family_models[fam]
    mask, soft = diffedit(host, model, pos, pos, latent, threshold=0.0)
    assert not mask.any() and not soft.any()


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_the_mask_recovers_the_region_where_the_target_prompt_applies(host, family_models, fam):
    """target = the reference prompt everywhere plus another prompt masked to a square (core nodes): the two
    predictions differ only inside the square, whatever the weights."""
    model, pos, neg, latent = family_models[fam]
    region = torch.zeros(1, SIZE, SIZE)
    region[:, 16:40, 24:56] = 1.0
    masked = v1(host, "ConditioningSetMask", conditioning=pos, mask=region, set_cond_area="default", strength=1.0)
    target = v1(host, "ConditioningCombine", conditioning_1=neg, conditioning_2=masked)
    mask, soft = diffedit(host, model, target, neg, latent, noises=6)
    want = region.expand(B, -1, -1) > 0
    for b in range(B):
        got = mask[b] > 0
        assert float((got & want[b]).sum() / (got | want[b]).sum()) >= 0.9, float(mask[b].mean())


@pytest.mark.parametrize("noises, batch_size", [(5, 0), (5, 2), (3, 5)])
@pytest.mark.parametrize("cfg", [1.0, 7.5])
def test_model_calls_are_the_formula(host, family_models, noises, batch_size, cfg):
    """⌈noises / batch_size⌉ forward passes, each of 2 × copies × B rows (both prompts, no negative)."""
    model, pos, neg, latent = family_models["flow16"]
    counter = CallCounter(model)
    diffedit(host, counter.model, pos, neg, latent, noises=noises, batch_size=batch_size, cfg=cfg)
    per_call = min(batch_size or noises, noises)
    assert len(counter.calls) == math.ceil(noises / per_call)
    assert counter.calls == [2 * B * min(per_call, noises - k) for k in range(0, noises, per_call)]


def test_batching_does_not_change_the_mask(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    mask_all, soft_all = diffedit(host, model, pos, neg, latent, noises=4, batch_size=0)
    mask_one, soft_one = diffedit(host, model, pos, neg, latent, noises=4, batch_size=1)
    torch.testing.assert_close(soft_one, soft_all, rtol=1e-4, atol=1e-4)  # the model's batch-size rounding
    assert float((mask_one != mask_all).float().mean()) < 0.01


def test_progress_moves_once_per_model_call(host, family_models):
    import comfy.utils

    model, pos, neg, latent = family_models["flow16"]
    seen = []
    old = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: seen.append((value, total)))
    try:
        diffedit(host, model, pos, neg, latent, noises=5, batch_size=2)
    finally:
        comfy.utils.set_progress_bar_global_hook(old)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_vae_sets_the_image_size(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    _, _, vae = host.checkpoint("sd15")
    mask, _ = diffedit(host, model, pos, neg, latent, vae=vae)
    assert mask.shape == (B, SIZE, SIZE)


def test_smoothing_and_hole_filling_are_the_maps_own_steps(host, family_models):
    """The options change the map as sampling/diffedit.py's steps do, per image, at image size; off, the node is
    the reference pipeline (the same map as a node without them)."""
    from sampling.diffedit import fill_holes

    model, pos, neg, latent = family_models["eps"]
    _, raw = diffedit(host, model, pos, neg, latent, **PARTIAL)
    _, off = diffedit(host, model, pos, neg, latent, **PARTIAL, smoothing=0.0, fill_holes=False)
    assert torch.equal(raw, off)
    mask, filled = diffedit(host, model, pos, neg, latent, **PARTIAL, fill_holes=True)
    blocks = raw[:, ::8, ::8]  # one value per latent pixel (nearest upscaling by the VAE's factor 8)
    assert torch.allclose(filled[:, ::8, ::8], fill_holes(blocks), atol=1e-6)
    assert bool((filled >= raw).all()) and torch.equal(mask, (filled > PARTIAL["threshold"]).float())
    _, smoothed = diffedit(host, model, pos, neg, latent, **PARTIAL, smoothing=1.5)

    def variation(m):  # the summed jumps between neighbouring latent pixels, per image
        m = m[:, ::8, ::8]
        return (m.diff(dim=1).abs().sum((1, 2)) + m.diff(dim=2).abs().sum((1, 2))).tolist()

    for b, (v_raw, v_smooth) in enumerate(zip(variation(raw), variation(smoothed), strict=True)):
        assert v_smooth < 0.6 * v_raw, (b, v_raw, v_smooth)  # the blur joins scattered pixels into regions


def test_bad_inputs_get_clear_errors(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    _, flow_pos, _, flow_latent = family_models["flow16"]
    cases = [
        ({"noises": 0}, "number of noises must be a whole number ≥ 1"),
        ({"threshold": -0.1}, "threshold must lie in [0, 1]"),
        ({"threshold": 1.1}, "threshold must lie in [0, 1]"),
        ({"clamp_factor": 0.0}, "clamp factor must be a number > 0"),
        ({"noise_strength": 0.0}, "noise_strength must lie in (0, 1)"),
        ({"noise_strength": 1.0}, "noise_strength must lie in (0, 1)"),
        ({"batch_size": -1}, "batch_size must be ≥ 0"),
        ({"latent": flow_latent}, "channels but this model works on 4"),
        ({"latent": {"samples": torch.zeros(2, 4, 3, 8, 8)}}, "a video latent"),
        ({"reference": flow_pos}, "different text encoders"),
        ({"reference": []}, "reference: expected a CONDITIONING but got an empty list"),
        ({"vae": host.checkpoint("sd3")[2]}, "vae makes 16-channel latents but the latent has 4"),
        ({"smoothing": math.nan}, "smoothing must be a number of latent pixels in [0, 16]"),
        ({"smoothing": 20.0}, "smoothing must be a number of latent pixels in [0, 16]"),
    ]
    for kw, message in cases:
        args = {"reference": neg, "latent": latent} | kw
        with pytest.raises(ValueError) as err:
            diffedit(host, model, pos, args.pop("reference"), args.pop("latent"), **args)
        assert message in str(err.value), (message, str(err.value))


# --- The DiffEdit-SDE example workflow -----------------------------------------------------------------

@pytest.fixture(scope="module")
def wf_image(host):
    import folder_paths
    from PIL import Image

    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    rgb = np.stack([xx, yy, 1 - xx], -1) * 200 + 30
    name = "diffedit_input.png"
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(f"{folder_paths.get_input_directory()}/{name}")
    return name


def _diffedit_sde_graph(wf_image) -> dict:
    """The DiffEdit-SDE example (float64, cfg 7.5) on the tiny SD1.5: 4 steps, 4 noises."""
    from hostlib import CHECKPOINTS
    from workflows import WORKFLOWS, Settings

    g = WORKFLOWS["sde_edit_diffedit_sde"](Settings(ckpt=CHECKPOINTS["sd15"], image=wf_image, steps=4))
    g["7"]["inputs"]["noises"] = 4
    return g


def test_diffedit_sde_workflow_with_identical_prompts_gives_back_the_input(host, wf_image):
    g = _diffedit_sde_graph(wf_image)
    g["6"]["inputs"]["text"] = g["4"]["inputs"]["text"]
    out = host.run_graph(g)
    assert not out["7"][0].any()  # identical prompts: nothing to edit
    assert max_err(out["11"][0], out["3"][0]) <= 1e-6, max_err(out["11"][0], out["3"][0])


@pytest.mark.parametrize("precision, batch_size, tol", [("float32", 0, 1e-3), ("float64", 1, 1e-6)])
def test_cycle_sde_is_exact_through_a_partial_diffedit_mask(host, wf_image, precision, batch_size, tol):
    """The workflow's mask from two different prompts, but the replay with the source prompt: the input again."""
    g = _diffedit_sde_graph(wf_image)
    g["7"]["inputs"] |= PARTIAL
    g["10"]["inputs"] |= {"precision": precision, "batch_size": batch_size}
    g["11"]["inputs"]["positive"] = ["4", 0]
    out = host.run_graph(g)
    assert 0.02 < float(out["7"][0].mean()) < 0.98
    assert max_err(out["11"][0], out["3"][0]) <= tol, max_err(out["11"][0], out["3"][0])
