"""Stage 2's other forms: the SAMPLER for SamplerCustomAdvanced, and the paper's second-order pair."""

import pytest
import torch
from stage_helpers import FAMILIES, call, max_err, record, resample


@pytest.mark.parametrize("fam", FAMILIES)
@pytest.mark.parametrize("method", ["cycle_sde", "ddpm", "ddim"])
def test_sampler_in_sampler_custom_advanced_equals_the_resample_node(host, family_models, fam, method):
    model, pos, neg, latent = family_models[fam]
    x_t0, traj = record(host, model, pos, neg, latent, cfg=2.5, steps=4)
    node = resample(host, model, pos, neg, x_t0, traj, method, cfg=2.5, seed=4)
    sampler = call(host, "SDEEditSampler", trajectory=traj, method=method, seed=4)[0]
    sigmas = call(host, "SDEEditTrajectorySigmas", trajectory=traj)[0]
    guider = call(host, "CFGGuider", model=model, positive=pos, negative=neg, cfg=2.5)[0]
    noise = call(host, "DisableNoise")[0]
    out = call(host, "SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
               latent_image=x_t0)[0]
    assert max_err(out, node) <= 1e-6, max_err(out, node)
    if method == "cycle_sde":
        assert max_err(out, latent) <= 1e-3  # and the SAMPLER form reconstructs too


def test_both_forms_take_an_all_zero_latent_as_the_latent_zero(host, family_models):
    """ComfyUI leaves an all-zero latent unprocessed (an empty txt2img latent); on SD3 process_latent_in moves it
    (shift and scale), so without care the zero latent would start elsewhere than a latent a hair away from it.
    Both forms must treat it as the latent zero: continuous in the latent, and equal to each other."""
    model, pos, neg, latent = family_models["flow16"]
    zero = {"samples": torch.zeros_like(latent["samples"])}
    hair = {"samples": torch.full_like(latent["samples"], 1e-6)}  # not all zero: ComfyUI processes it
    x_t0, traj = record(host, model, pos, neg, zero, steps=3)
    node = resample(host, model, pos, neg, zero, traj, "ddim")
    assert max_err(node, resample(host, model, pos, neg, hair, traj, "ddim")) <= 1e-4
    sampler = call(host, "SDEEditSampler", trajectory=traj, method="ddim", seed=0)[0]
    guider = call(host, "CFGGuider", model=model, positive=pos, negative=neg, cfg=1.0)[0]
    out = call(host, "SamplerCustomAdvanced", noise=call(host, "DisableNoise")[0], guider=guider, sampler=sampler,
               sigmas=call(host, "SDEEditTrajectorySigmas", trajectory=traj)[0], latent_image=zero)[0]
    assert max_err(out, node) <= 1e-6, max_err(out, node)


def test_sampler_refuses_added_noise_and_other_sigmas(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    x_t0, traj = record(host, model, pos, neg, latent, steps=3)
    sampler = call(host, "SDEEditSampler", trajectory=traj, method="cycle_sde", seed=0)[0]
    guider = call(host, "CFGGuider", model=model, positive=pos, negative=neg, cfg=1.0)[0]
    sigmas = call(host, "SDEEditTrajectorySigmas", trajectory=traj)[0]
    with pytest.raises(ValueError, match="Disable Noise"):
        call(host, "SamplerCustomAdvanced", noise=call(host, "RandomNoise", noise_seed=1)[0], guider=guider,
             sampler=sampler, sigmas=sigmas, latent_image=x_t0)
    with pytest.raises(ValueError, match="record it with the same steps"):
        call(host, "SamplerCustomAdvanced", noise=call(host, "DisableNoise")[0], guider=guider, sampler=sampler,
             sigmas=sigmas[1:], latent_image=x_t0)


@pytest.mark.parametrize("method", ["dpmpp_2m", "dpmpp_2m_sde"])
@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_second_order_methods_are_comfyui_own_solvers(host, family_models, method, fam):
    """Resample's dpmpp_2m(_sde) is ComfyUI's sampler of that name on the trajectory's levels, noise for noise."""
    model, pos, neg, latent = family_models[fam]
    x_t0, traj = call(host, "SDEEditNoiseAddingInversion", model=model, latent=latent, t0=0.5, steps=5, seed=2,
                      scheduler="simple", independent_noise=False, precision="float32")
    ours = resample(host, model, pos, neg, x_t0, traj, method, cfg=2.0, seed=13)
    sampler = call(host, "KSamplerSelect", sampler_name=method)[0]
    # SamplerCustom with add_noise off still hands noise_seed to the sampler (the SDE's Brownian tree); on EPS
    # core samplers take the latent as x_t0 as it is (on flow they rescale it by 1 - sigma, no comparison there).
    if fam == "eps":
        theirs = call(host, "SamplerCustom", model=model, add_noise=False, noise_seed=13, cfg=2.0, positive=pos,
                      negative=neg, sampler=sampler, sigmas=traj.sigmas.to(torch.float32), latent_image=x_t0)[0]
        assert max_err(ours, theirs) <= 1e-4 * (1 + float(theirs["samples"].abs().max())), max_err(ours, theirs)
    assert torch.isfinite(ours["samples"]).all()
    assert float((ours["samples"] - x_t0["samples"]).abs().mean()) > 1e-3  # it really sampled


def test_second_order_methods_refuse_a_mask(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    x_t0, traj = record(host, model, pos, neg, latent, steps=2)
    with pytest.raises(ValueError, match="use ddim"):
        resample(host, model, pos, neg, x_t0, traj, "dpmpp_2m", mask=torch.ones(1, 64, 64))
