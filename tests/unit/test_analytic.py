"""analytic: the exact denoisers satisfy Tweedie's formula against their own marginal densities,
the Gaussian is the one-component mixture, and Guided combines as CFG does."""

import math

import pytest
import torch

from sampling import Gaussian, GaussianMixture, Guided, coeffs

D = torch.float64


def mixture(path: str, event=(3,)) -> GaussianMixture:
    g = torch.Generator().manual_seed(0)
    return GaussianMixture(
        torch.tensor([0.2, 0.5, 0.3], dtype=D),
        torch.randn(3, *event, generator=g, dtype=D),
        torch.tensor([0.1, 0.4, 0.05], dtype=D),
        path,
    )


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("sigma", [0.05, 0.5, 0.95])
def test_mixture_posterior_mean_is_tweedie(path, sigma):
    """E[x0 | x] = (x + s²·∇log p_σ(x)) / a, with the score from autograd on log_prob."""
    mix = mixture(path)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=D).requires_grad_()
    sig = torch.full((64,), sigma, dtype=D)
    (score,) = torch.autograd.grad(mix.log_prob(x, sig).sum(), x)
    a, s = coeffs(torch.tensor(sigma, dtype=D), path)
    torch.testing.assert_close(mix(x.detach(), sig, sig), (x.detach() + s**2 * score) / a, rtol=0, atol=1e-10)


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_gaussian_is_the_one_component_mixture(path):
    mean = torch.randn(4, 2, 2, generator=torch.Generator().manual_seed(2), dtype=D)
    gauss = Gaussian(mean, 0.3, path)
    one = GaussianMixture(torch.ones(1, dtype=D), mean[None], torch.tensor([0.3], dtype=D), path)
    x = torch.randn(5, 4, 2, 2, generator=torch.Generator().manual_seed(3), dtype=D)
    sigma = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0 if path == "flow" else 20.0], dtype=D)
    out = gauss(x, sigma, sigma)
    torch.testing.assert_close(out, one(x, sigma, sigma), rtol=0, atol=1e-12)
    torch.testing.assert_close(out[0], x[0])  # σ = 0: x̂0 = x
    if path == "flow":
        torch.testing.assert_close(out[-1], mean)  # σ = 1: x̂0 = the data mean
    m, v = gauss.marginal(0.5)
    a, s = coeffs(torch.tensor(0.5, dtype=D), path)
    torch.testing.assert_close(m, a * mean)
    assert math.isclose(v, a**2 * 0.3 + s**2)


def test_mixture_samples_have_the_mixture_moments():
    mix = mixture("ve", event=())
    x = mix.sample(200_000, torch.Generator().manual_seed(4))
    mean = (mix.weights * mix.means).sum()
    var = (mix.weights * (mix.variances + mix.means**2)).sum() - mean**2
    d = mix.means - mean
    m4 = (mix.weights * (d**4 + 6 * d**2 * mix.variances + 3 * mix.variances**2)).sum()
    assert x.shape == (200_000,)
    assert abs(x.mean() - mean) < 5 * (var / x.numel()).sqrt()  # 5 standard errors
    assert abs(x.var() - var) < 5 * ((m4 - var**2) / x.numel()).sqrt()


def test_guided_is_cfg():
    cond, uncond = Gaussian(1.0, 0.2, "flow"), Gaussian(-1.0, 0.2, "flow")
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(5), dtype=D)
    sigma, scale = torch.full((3,), 0.4, dtype=D), torch.tensor([1.0, 3.0, 7.5], dtype=D)
    out = Guided(cond, uncond)(x, sigma, scale)
    c, u = cond(x, sigma, scale), uncond(x, sigma, scale)
    torch.testing.assert_close(out, u + scale[:, None] * (c - u), rtol=0, atol=1e-14)
    torch.testing.assert_close(out[0], c[0], rtol=0, atol=1e-14)  # scale 1 = the conditional model


def test_mixture_rejects_inconsistent_parameters():
    with pytest.raises(ValueError, match="K weights"):
        GaussianMixture(torch.ones(2), torch.zeros(3, 1), torch.ones(2))
    with pytest.raises(ValueError, match="path"):
        Gaussian(0.0, 1.0, "vp")
