"""The stage nodes on real ComfyUI models of every family (tiny checkpoints, 64 px, batch 2).

Families: EPS (SD1.5), V-prediction (SD1.5 through core ModelSamplingDiscrete), flow with 16
channels (SD3) and flow with 4 channels (SD1.5 through core ModelSamplingSD3).
"""

from __future__ import annotations

import math

import pytest
import torch
from stage_helpers import FAMILIES, CallCounter, call, max_err, record, resample


@pytest.mark.parametrize("fam", FAMILIES)
@pytest.mark.parametrize("cfg, schedule", [(1.0, "constant"), (4.0, "linear")])
def test_cycle_sde_without_edit_returns_the_input(host, family_models, fam, cfg, schedule):
    model, pos, neg, latent = family_models[fam]
    # float32, all recording calls in one batch: exact up to the model's batch-size-dependent rounding.
    x_t0, traj = record(host, model, pos, neg, latent, cfg=cfg, schedule=schedule)
    out = resample(host, model, pos, neg, x_t0, traj, "cycle_sde", cfg=cfg, schedule=schedule)
    assert max_err(out, latent) <= 1e-3, max_err(out, latent)
    # float64 state, one step per recording call (the same batch shapes as the replay): exact to the
    # float32 rounding of the LATENT output.
    x_t0, traj = record(host, model, pos, neg, latent, cfg=cfg, schedule=schedule, precision="float64", batch_size=1)
    out = resample(host, model, pos, neg, x_t0, traj, "cycle_sde", cfg=cfg, schedule=schedule)
    assert max_err(out, latent) <= 1e-6, max_err(out, latent)
    assert out["samples"].dtype == torch.float32 and out["samples"].shape == latent["samples"].shape


def test_float64_keeps_reconstruction_under_strong_guidance(host, family_models):
    """The paper's Table 3: at CFG 7.5 float32 drifts, float64 does not."""
    model, pos, neg, latent = family_models["eps"]
    errs = {}
    for precision in ("float32", "float64"):
        x_t0, traj = record(host, model, pos, neg, latent, cfg=7.5, steps=8, precision=precision, batch_size=1)
        errs[precision] = max_err(resample(host, model, pos, neg, x_t0, traj, "cycle_sde", cfg=7.5), latent)
    assert errs["float64"] <= 1e-6 and errs["float64"] * 10 < errs["float32"], errs


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_ddim_inversion_then_ddim_comes_back_closer_with_more_steps(host, family_models, fam):
    model, pos, neg, latent = family_models[fam]
    errs = []
    for steps in (4, 16, 64):
        x_t0, traj = call(host, "SDEEditDDIMInversion", model=model, positive=pos, negative=neg, cfg=1.0,
                          cfg_schedule="constant", latent=latent, t0=0.3, steps=steps, scheduler="simple",
                          precision="float32")
        out = resample(host, model, pos, neg, x_t0, traj, "ddim")
        errs.append(float((out["samples"] - latent["samples"]).abs().mean()))
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[2] < 0.5 * errs[0], errs


@pytest.mark.parametrize("fam", FAMILIES)
def test_mask_keeps_the_non_editable_area_on_the_trajectory(host, family_models, fam):
    model, pos, neg, latent = family_models[fam]
    x_t0, traj = call(host, "SDEEditNoiseAddingInversion", model=model, latent=latent, t0=0.7, steps=4, seed=5,
                      scheduler="simple", independent_noise=False, precision="float32")
    edited = dict(x_t0, samples=x_t0["samples"] + torch.randn_like(x_t0["samples"]))  # edit everywhere
    mask = torch.zeros(1, 64, 64)
    mask[:, 16:48, 16:48] = 1.0  # editable square: latent pixels 2..5
    out = resample(host, model, pos, neg, edited, traj, "ddpm", mask=mask, seed=9)
    diff = (out["samples"] - latent["samples"]).abs()
    keep = torch.ones(8, 8, dtype=torch.bool)
    keep[1:7, 1:7] = False  # the bilinear mask's soft edge reaches one latent pixel out
    assert float(diff[..., keep].max()) <= 1e-5, diff[0, 0]
    assert float(diff[..., 3:5, 3:5].min()) > 1e-3  # the editable core really changed


@pytest.mark.parametrize("fam", ["eps", "v"])
def test_our_ddpm_equals_comfyui_ddpm_sampler(host, family_models, fam):
    """Our DDPM step (Eq. 6, η = 1, in (a, s) form) is ComfyUI's `ddpm` sampler on VP models, noise for noise:
    ComfyUI seeded with the seed of our "ddpm" stream (sampling/streams.py) draws the same numbers.

    (ComfyUI's ddpm is written for VP/VE models only; on flow models there is nothing to compare.)
    """
    from sampling.streams import stream_seed

    model, pos, neg, latent = family_models[fam]
    x_t0, traj = call(host, "SDEEditNoiseAddingInversion", model=model, latent=latent, t0=0.5, steps=6, seed=2,
                      scheduler="simple", independent_noise=False, precision="float32")
    ours = resample(host, model, pos, neg, x_t0, traj, "ddpm", cfg=2.0, seed=11)
    sampler = call(host, "KSamplerSelect", sampler_name="ddpm")[0]
    theirs = call(host, "SamplerCustom", model=model, add_noise=False, noise_seed=stream_seed(11, "ddpm"), cfg=2.0,
                  positive=pos, negative=neg, sampler=sampler, sigmas=traj.sigmas.to(torch.float32),
                  latent_image=x_t0)[0]
    assert max_err(ours, theirs) <= 1e-4 * (1 + float(theirs["samples"].abs().max())), max_err(ours, theirs)


@pytest.mark.parametrize("batch_size, cfg", [(0, 1.0), (2, 1.0), (1, 3.0)])
def test_model_calls_are_the_formula(host, family_models, batch_size, cfg):
    model, pos, neg, latent = family_models["flow16"]
    steps, b = 5, latent["samples"].shape[0]
    counter = CallCounter(model)
    x_t0, traj = record(host, counter.model, pos, neg, latent, cfg=cfg, steps=steps, batch_size=batch_size)
    per_call = steps if batch_size == 0 else batch_size
    branches = 1 if cfg == 1 else 2  # at scale 1 the negative prompt is never evaluated
    assert len(counter.calls) == math.ceil(steps / per_call)
    assert sum(counter.calls) == steps * b * branches
    counter.calls.clear()
    resample(host, counter.model, pos, neg, x_t0, traj, "cycle_sde", cfg=cfg)
    assert counter.calls == [b * branches] * steps
    counter.calls.clear()
    call(host, "SDEEditNoiseAddingInversion", model=counter.model, latent=latent, t0=0.6, steps=steps, seed=1,
         scheduler="simple", independent_noise=False, precision="float32")
    assert counter.calls == []


def test_linear_schedule_skips_the_unconditional_pass_at_scale_one(host, family_models):
    model, pos, neg, latent = family_models["flow16"]
    counter = CallCounter(model)
    x_t0, traj = record(host, counter.model, pos, neg, latent, cfg=3.0, schedule="linear", steps=4, batch_size=1)
    b = latent["samples"].shape[0]
    assert counter.calls == [2 * b, 2 * b, 2 * b, b]  # the last step runs at scale 1


def test_outputs_live_on_the_intermediate_device_and_inputs_are_untouched(host, family_models):
    import comfy.model_management

    model, pos, neg, latent = family_models["eps"]
    before = {k: v.clone() if torch.is_tensor(v) else v for k, v in latent.items()}
    x_t0, traj = record(host, model, pos, neg, latent, steps=3)
    x_before = x_t0["samples"].clone()
    out = resample(host, model, pos, neg, x_t0, traj, "cycle_sde")
    assert set(latent) == set(before) and torch.equal(latent["samples"], before["samples"])
    assert torch.equal(x_t0["samples"], x_before)
    dev = comfy.model_management.intermediate_device()
    assert out["samples"].device == dev and x_t0["samples"].device == dev


# --- Bad input: a ValueError that names the input and the fix -------------------------------------

def test_bad_inputs_get_clear_errors(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    flow_model, fpos, fneg, flow_latent = family_models["flow16"]
    x_t0, traj = record(host, model, pos, neg, latent, steps=3)
    _, flow_traj = record(host, flow_model, fpos, fneg, flow_latent, steps=3)
    _, na_traj = call(host, "SDEEditNoiseAddingInversion", model=model, latent=latent, t0=0.6, steps=3, seed=1,
                      scheduler="simple", independent_noise=False, precision="float32")
    other_size = {"samples": torch.randn(2, 4, 9, 8)}
    cases = [
        (lambda: record(host, model, pos, neg, latent, t0=0.0), "t0 must be in (0, 1]"),
        (lambda: record(host, model, pos, neg, latent, t0=1.5), "t0 must be in (0, 1]"),
        (lambda: record(host, model, pos, neg, latent, steps=0), "steps must be"),
        (lambda: record(host, model, pos, neg, flow_latent), "channels but this model works on 4"),
        (lambda: record(host, model, pos, neg, {"samples": latent["samples"] * float("nan")}), "NaN"),
        (lambda: resample(host, model, pos, neg, x_t0, flow_traj, "cycle_sde"), "record it again with this model"),
        (lambda: resample(host, family_models["v"][0], pos, neg, x_t0, traj, "cycle_sde"), "V_PREDICTION"),
        (lambda: resample(host, model, pos, neg, other_size, traj, "cycle_sde"), "recorded for latents of shape"),
        (lambda: resample(host, model, pos, neg, x_t0, na_traj, "cycle_sde"), "record it with the Cycle-SDE node"),
        (lambda: resample(host, model, pos, neg, x_t0, traj, "ddim", mask=torch.ones(1, 64, 32)),
         "another aspect ratio"),
        (lambda: resample(host, model, pos, neg, x_t0, traj, "ddim", mask=torch.ones(3, 64, 64)), "batch of 3"),
    ]
    for fn, message in cases:
        with pytest.raises(ValueError, match=None) as err:
            fn()
        assert message in str(err.value), (message, str(err.value))
