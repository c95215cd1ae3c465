"""Moment tests on 1-D Gaussian data N(μ, v), where every marginal is known in closed form.

Tolerances are 5 standard errors of the estimator (N samples of a normal with variance V: SE of the
mean sqrt(V/N), of the variance V·sqrt(2/N), of a covariance C sqrt((V1·V2 + C²)/N)): a correct
implementation fails one such check with probability below 1e-6, and the seeds are fixed.
"""

import math

import pytest
import torch

from sampling import Gaussian, coeffs, ddpm_step, forward_trajectory

N = 400_000
MU, V = 0.7, 0.3
D = torch.float64


def moments_close(x: torch.Tensor, mean: float, var: float) -> None:
    """Assert the sample mean and variance of x match within 5 standard errors."""
    assert abs(x.mean().item() - mean) <= 5 * math.sqrt(var / x.numel())
    assert abs(x.var().item() - var) <= 5 * var * math.sqrt(2 / x.numel())


def cov_close(x: torch.Tensor, y: torch.Tensor, cov: float) -> None:
    """Assert the sample covariance of x and y matches within 5 standard errors."""
    c = ((x - x.mean()) * (y - y.mean())).mean().item()
    assert abs(c - cov) <= 5 * math.sqrt((x.var().item() * y.var().item() + cov**2) / x.numel())


def ab(sigma: float, path: str) -> tuple[float, float]:
    """(a, s) at level σ as floats."""
    a, s = coeffs(torch.tensor(sigma, dtype=D), path)
    return a.item(), s.item()


@pytest.mark.parametrize("markov", [True, False])
@pytest.mark.parametrize(("path", "sigmas"), [("ve", [3.0, 1.0, 0.4, 0.0]), ("flow", [1.0, 0.6, 0.25, 0.0])])
def test_forward_trajectory_marginals_and_coupling(path, sigmas, markov):
    g = torch.Generator().manual_seed(0)
    x0 = MU + math.sqrt(V) * torch.randn(N, generator=g, dtype=D)
    traj = forward_trajectory(x0, torch.tensor(sigmas, dtype=D), path, g, markov=markov)
    for i, sigma in enumerate(sigmas):
        a, s = ab(sigma, path)
        moments_close(traj.latents[i], a * MU, a * a * V + s * s)  # q(x_i | x0) integrated over the data
    for i in range(len(sigmas) - 1):
        a_i, (a_j, s_j) = ab(sigmas[i], path)[0], ab(sigmas[i + 1], path)
        var_j = a_j * a_j * V + s_j * s_j
        # Markov (Eq. 7): x_i = (a_i/a_j)·x_j + fresh noise; independent: x_i and x_j share only x0
        cov = a_i / a_j * var_j if markov else a_i * a_j * V
        cov_close(traj.latents[i], traj.latents[i + 1], cov)


@pytest.mark.parametrize(
    ("path", "t", "s"),
    [("ve", 2.0, 1.2), ("ve", 0.5, 0.0), ("flow", 1.0, 0.7), ("flow", 0.6, 0.3), ("flow", 0.3, 0.0)],
)
def test_ddpm_step_with_the_true_x0_samples_the_forward_posterior(path, t, s):
    """With x̂0 = the x0 that made x_t, the DDPM step samples q(x_s | x_t, x0) exactly: (x0, x_t, x_s)
    has the forward process's joint law. This pins down both τ and the mean of Alg. 3."""
    g = torch.Generator().manual_seed(1)
    (a_t, s_t), (a_s, s_s) = ab(t, path), ab(s, path)
    x0 = MU + math.sqrt(V) * torch.randn(N, generator=g, dtype=D)
    x_t = a_t * x0 + s_t * torch.randn(N, generator=g, dtype=D)
    lv = [torch.tensor(c, dtype=D) for c in (a_t, s_t, a_s, s_s)]
    x_s = ddpm_step(x_t, x0, *lv, torch.randn(N, generator=g, dtype=D))
    var_s = a_s * a_s * V + s_s * s_s
    moments_close(x_s, a_s * MU, var_s)
    cov_close(x_s, x0, a_s * V)
    cov_close(x_s, x_t, a_s * a_t * V + s_s * s_t * (a_t * s_s / (a_s * s_t)))  # (a_t/a_s)·Var(x_s)


@pytest.mark.parametrize(
    ("path", "t", "s", "small"),
    [("ve", 1.0, 0.9, True), ("ve", 0.5, 0.0, False), ("flow", 0.5, 0.49, True), ("flow", 1.0, 0.5, False)],
)
def test_ddpm_step_from_the_data_marginal_matches_the_forward_marginal(path, t, s, small):
    """x_t ~ q(x_t), one DDPM step with the exact denoiser: the mean of x_s is q's exactly; its variance
    is q's less c²·Var(x0 | x_t), c = a_s − s_s·ρ·a_t/s_t (the step plugs in E[x0 | x_t] for x0), which
    is second order in the step: under 1 % of q's variance for a small step."""
    g = torch.Generator().manual_seed(2)
    (a_t, s_t), (a_s, s_s) = ab(t, path), ab(s, path)
    x_t = a_t * MU + math.sqrt(a_t * a_t * V + s_t * s_t) * torch.randn(N, generator=g, dtype=D)
    sigma_t = torch.full((N,), t, dtype=D)
    x0_hat = Gaussian(MU, V, path)(x_t, sigma_t, torch.ones(N, dtype=D))
    lv = [torch.tensor(c, dtype=D) for c in (a_t, s_t, a_s, s_s)]
    x_s = ddpm_step(x_t, x0_hat, *lv, torch.randn(N, generator=g, dtype=D))
    var_q = a_s * a_s * V + s_s * s_s
    c = a_s - s_s * (a_t * s_s / (a_s * s_t)) * a_t / s_t
    deficit = c * c * V * s_t * s_t / (a_t * a_t * V + s_t * s_t)
    moments_close(x_s, a_s * MU, var_q - deficit)
    if small:
        assert deficit < 0.01 * var_q
        assert abs(x_s.var().item() - var_q) <= 0.01 * var_q + 5 * var_q * math.sqrt(2 / N)
