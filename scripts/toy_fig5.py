"""The paper's toy experiment (Fig. 5; Theorems 3.1–3.3) on a 1-D Gaussian mixture, exactly scored.

Shared by the unit test (tests/unit/test_toy_fig5.py) and the benchmark (scripts/benchmark.py).

Stage 2 starts from a prior p̃ at t0 that is not the true marginal p_t0 (the paper's N(2, 2²) and
U[−2, 2]). Along the way we measure KL(p̃_t ‖ p_t) between the sampler's marginal and the true one:
the ODE (DDIM) transports p̃ and p by the same map, so it stays about constant (Thm 3.2); the SDE
(DDPM) and Cycle-SDE contract it (Thms 3.1, 3.3). Cycle-SDE records its residuals on forward
trajectories of real data samples, then replays them from the mismatched prior.

Estimator: the KL of the sample histogram (200 bins over ±6 std of p_t, plus two tail bins) against
p_t's exact bin masses (from its CDF): a plug-in estimate, biased upward by about bins/(2N) ≈ 0.003,
and a lower bound of the true KL up to that bias (binning can only lose divergence).
"""

import torch

from sampling import GaussianMixture, coeffs, forward_trajectory, gaussian_noise, record_cycle_sde, sample

N, STEPS, CHECKS = 30_000, 40, (10, 20, 30, 40)
D = torch.float64
METHODS = ("ddim", "ddpm", "cycle_sde")
PRIORS = {"normal": "N(2, 2²)", "uniform": "U[−2, 2]"}


def data(path: str) -> GaussianMixture:
    """Two well separated modes, as in the paper's 1-D illustration."""
    return GaussianMixture(
        torch.tensor([0.4, 0.6], dtype=D),
        torch.tensor([-1.0, 1.0], dtype=D),
        torch.tensor([0.05, 0.05], dtype=D),
        path,
    )


def histogram_kl(x: torch.Tensor, mix: GaussianMixture, sigma: float, bins: int = 200) -> float:
    """KL(histogram of x ‖ p_σ) with p_σ's exact bin masses."""
    a, s = coeffs(torch.tensor(sigma, dtype=D), mix.path)
    m, sd = a * mix.means, (a**2 * mix.variances + s**2).sqrt()
    edges = torch.linspace((m - 6 * sd).min().item(), (m + 6 * sd).max().item(), bins + 1, dtype=D)
    cdf = (mix.weights[:, None] * torch.special.ndtr((edges[None] - m[:, None]) / sd[:, None])).sum(0)
    q = torch.cat([cdf[:1], cdf[1:] - cdf[:-1], 1 - cdf[-1:]])
    p = torch.bincount(torch.bucketize(x, edges), minlength=bins + 2).to(D) / x.numel()
    kept = p > 0
    return (p[kept] * (p[kept] / q[kept]).log()).sum().item()


def grid(path: str, steps: int = STEPS) -> torch.Tensor:
    """The levels: σ from 1.5 (VE) or 0.7 (flow) down to 0, uniformly."""
    return torch.linspace(0.7, 0.0, steps + 1, dtype=D) if path == "flow" else torch.linspace(1.5, 0.0, steps + 1)


def kl_along(method: str, path: str, prior: str, checks=CHECKS, n: int = N, steps: int = STEPS) -> list[float]:
    """KL at σ_0 and after each step in `checks` of `method` started from the mismatched prior."""
    mix = data(path)
    sigmas = grid(path, steps)
    g = torch.Generator().manual_seed(0)
    x = 2 + 2 * torch.randn(n, generator=g, dtype=D) if prior == "normal" else 4 * torch.rand(n, generator=g) - 2
    kls = [histogram_kl(x, mix, sigmas[0].item())]

    def measure(i, state, x0_hat):
        if i + 1 in checks:
            kls.append(histogram_kl(state, mix, sigmas[i + 1].item()))

    if method == "cycle_sde":
        source = record_cycle_sde(mix, forward_trajectory(mix.sample(n, g), sigmas, path, g), 1.0)
        sample(mix, x.to(D), source, method, 1.0, callback=measure)
    else:
        noise = gaussian_noise(x.to(D), g)
        sample(mix, x.to(D), sigmas, method, 1.0, path=path, noise_sampler=noise, callback=measure)
    return kls
