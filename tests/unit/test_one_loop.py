"""The one stage-2 loop: every method of `sample`, and `sample_coupled`, step exactly as the kernels do.

Each result is compared bit for bit (torch.equal) with a plain loop over the public kernels, so the
shared loop changes no floating-point operation: DDPM is μ + τ·w, Cycle-SDE μ + r, DDIM its own step,
and the mask blends at every output level.
"""

import pytest
import torch
from unit_helpers import SHAPE, grid, models

from sampling import (
    coeffs,
    coupled_step,
    cycle_residual,
    ddim_step,
    ddpm_step,
    forward_trajectory,
    gaussian_noise,
    guidance_scales,
    record_cycle_sde,
    sample,
)
from sampling.samplers import sample_coupled


def levels(sigmas, path, dtype):
    a, s = coeffs(sigmas.to(torch.float64), path)
    return sigmas.to(torch.float64).to(dtype), a.to(dtype), s.to(dtype)


def call(model, x, sigma, scale):
    n = x.shape[0]
    return model(x, sigma.reshape(-1).expand(n).clone(), scale.reshape(-1).expand(n).clone()).to(x)


def setup(path, dtype):
    model = models(path)["guided_mixture"]
    g = torch.Generator().manual_seed(21)
    x0 = torch.randn(SHAPE, generator=g, dtype=dtype)
    sigmas, scales = grid(path, 6), guidance_scales(6, 3.0, "linear", dtype)
    forward = forward_trajectory(x0, sigmas, path, g, dtype=dtype)
    edited = forward.latents[0] + 0.5 * torch.randn(SHAPE, generator=g, dtype=dtype)
    mask = (torch.rand((1, 1, 8, 8), generator=g) > 0.5).to(dtype)
    return model, sigmas, scales, forward, edited, mask


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("method", ["ddim", "ddpm", "cycle_sde"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_steps_exactly_as_the_kernels(path, method, dtype):
    model, sigmas, scales, forward, edited, mask = setup(path, dtype)
    rec = record_cycle_sde(model, forward, scales)
    got = sample(model, edited, rec, method, scales, mask=mask,
                 noise_sampler=gaussian_noise(edited, torch.Generator().manual_seed(8)))
    sig, a, s = levels(sigmas, path, dtype)
    noise = gaussian_noise(edited, torch.Generator().manual_seed(8))
    x = edited.clone()
    for i in range(sig.numel() - 1):
        t_s = (a[i], s[i], a[i + 1], s[i + 1])
        x0_hat = call(model, x, sig[i], scales[i])
        if method == "ddim":
            x = ddim_step(x, x0_hat, *t_s)
        elif method == "ddpm":
            z = noise(sig[i], sig[i + 1]).to(x) if s[i + 1] > 0 else torch.zeros_like(x)
            x = ddpm_step(x, x0_hat, *t_s, z)
        else:
            x = coupled_step(x, x0_hat, rec.residuals[i].to(x), *t_s)
        x = mask * x + (1 - mask) * rec.latents[i + 1].to(x)
    assert torch.equal(got, x)


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_coupled_steps_exactly_as_the_kernels(path, dtype):
    model, sigmas, scales, forward, edited, mask = setup(path, dtype)
    got = sample_coupled(model, edited, forward, scales, mask=mask, residual=lambda i, r, tau: 0.5 * r)
    sig, a, s = levels(sigmas, path, dtype)
    x, y = forward.latents, edited.clone()
    for i in range(sig.numel() - 1):
        t_s = (a[i], s[i], a[i + 1], s[i + 1])
        x0_src, x0_tgt = call(model, torch.cat([x[i], y]), sig[i], scales[i]).split(SHAPE[0])
        r = 0.5 * cycle_residual(x[i + 1], x[i], x0_src, *t_s)
        y = mask * coupled_step(y, x0_tgt, r, *t_s) + (1 - mask) * x[i + 1]
    assert torch.equal(got, y)
