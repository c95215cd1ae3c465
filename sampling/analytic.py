"""Exact denoisers for Gaussian data: test oracles and benchmark models (docs/design.md §7).

On a path x = a·x0 + s·ε (`schedule.coeffs`), data x0 ~ N(μ, v·I) gives

    x ~ N(a·μ, (a²·v + s²)·I),      E[x0 | x] = μ + a·v / (a²·v + s²) · (x − a·μ)

(Tweedie: E[x0 | x] = (x + s²·∇log p(x)) / a). An isotropic mixture Σ_k π_k·N(μ_k, v_k·I) in D
dimensions gives the same per component, weighted by the responsibilities

    ρ_k(x) ∝ π_k·N(x; a·μ_k, (a²·v_k + s²)·I),      E[x0 | x] = Σ_k ρ_k(x)·E_k[x0 | x].

Both are `denoise(x [N, …], sigma [N], scale [N]) -> x̂0` callables that ignore the scale; `Guided`
combines two of them as classifier-free guidance does: x̂0 = u + w·(c − u). The event shape is x's
shape without the batch dimension (x may be [N] for 1-D data).

The end of the module is the paper's toy experiment (Fig. 5; Theorems 3.1–3.3) on a 1-D Gaussian mixture,
exactly scored: `kl_along` measures KL(p̃_t ‖ p_t) along a sampler started from a mismatched prior p̃. It is
shared by the unit test (tests/unit/test_toy_fig5.py) and the benchmark (scripts/bench/scale.py).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .samplers import forward_trajectory, gaussian_noise, record_cycle_sde, sample
from .schedule import check_path, coeffs


def _path_coeffs(sigma: Tensor, path: str, like: Tensor, ndim: int) -> tuple[Tensor, Tensor]:
    """(a, s) of per-sample σ [N], shaped [N, 1, …] with `ndim` dims, in like's dtype and device."""
    sigma = sigma.to(like.device, like.dtype).reshape(-1, *([1] * (ndim - 1)))
    return coeffs(sigma, path)


@dataclass(frozen=True, eq=False)
class Gaussian:
    """Data x0 ~ N(mean, var·I); `mean` broadcasts to one sample's shape."""

    mean: Tensor | float
    var: float
    path: str = "ve"

    def __post_init__(self) -> None:
        check_path(self.path)

    def __call__(self, x: Tensor, sigma: Tensor, scale: Tensor | None = None) -> Tensor:
        """E[x0 | x_σ = x] in closed form."""
        a, s = _path_coeffs(sigma, self.path, x, x.ndim)
        mu = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
        return mu + a * self.var / (a**2 * self.var + s**2) * (x - a * mu)

    def marginal(self, sigma: float) -> tuple[Tensor, float]:
        """Mean and variance of x at level σ: (a·μ, a²·v + s²)."""
        a, s = coeffs(torch.tensor(float(sigma), dtype=torch.float64), self.path)
        return a * torch.as_tensor(self.mean, dtype=torch.float64), float(a**2 * self.var + s**2)


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """Data x0 ~ Σ_k weights[k]·N(means[k], variances[k]·I); means is [K, *event]."""

    weights: Tensor
    means: Tensor
    variances: Tensor
    path: str = "ve"

    def __post_init__(self) -> None:
        check_path(self.path)
        k = self.weights.numel()
        if self.means.shape[0] != k or self.variances.shape != (k,):
            raise ValueError("a mixture needs K weights, K means [K, *event] and K variances")

    def _components(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Per sample and component: log π_k·N(x; a·μ_k, tot_k·I), the means, a, v_k/tot_k and x − a·μ_k."""
        n, k = x.shape[0], self.weights.numel()
        xf = x.reshape(n, 1, -1)
        mu = self.means.to(x.device, x.dtype).reshape(1, k, -1)
        v = self.variances.to(x.device, x.dtype).reshape(1, k, 1)
        a, s = _path_coeffs(sigma, self.path, x, 3)
        tot = a**2 * v + s**2
        diff = xf - a * mu
        d = xf.shape[-1]
        log_w = self.weights.to(x.device, x.dtype).log().reshape(1, k, 1)
        logp = log_w - 0.5 * d * (2 * math.pi * tot).log() - 0.5 * (diff**2).sum(-1, keepdim=True) / tot
        return logp, mu, a, v / tot, diff

    def __call__(self, x: Tensor, sigma: Tensor, scale: Tensor | None = None) -> Tensor:
        """E[x0 | x_σ = x]: responsibilities times per-component posterior means."""
        logp, mu, a, v_over_tot, diff = self._components(x, sigma)
        rho = torch.softmax(logp, dim=1)
        posterior = mu + a * v_over_tot * diff
        return (rho * posterior).sum(1).reshape(x.shape)

    def log_prob(self, x: Tensor, sigma: Tensor) -> Tensor:
        """log p_σ(x) per sample, [N]."""
        logp = self._components(x, sigma)[0]
        return logp.logsumexp(dim=1).reshape(-1)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """n draws of x0, [n, *event], from `generator`."""
        k = torch.multinomial(self.weights.double(), n, replacement=True, generator=generator)
        z = torch.randn((n, *self.means.shape[1:]), generator=generator, dtype=self.means.dtype)
        std = self.variances.sqrt()[k].reshape(-1, *([1] * (z.ndim - 1)))
        return self.means[k] + std * z


@dataclass(frozen=True, eq=False)
class Guided:
    """Classifier-free guidance of two denoisers: x̂0 = uncond + scale·(cond − uncond)."""

    cond: Callable[[Tensor, Tensor, Tensor], Tensor]
    uncond: Callable[[Tensor, Tensor, Tensor], Tensor]

    def __call__(self, x: Tensor, sigma: Tensor, scale: Tensor) -> Tensor:
        """The guided x̂0 with per-sample scale [N]."""
        u = self.uncond(x, sigma, scale)
        c = self.cond(x, sigma, scale)
        w = scale.to(x.device, x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return u + w * (c - u)


# The paper's toy experiment (Fig. 5). Stage 2 starts from a prior p̃ at t0 that is not the true marginal p_t0
# (the paper's N(2, 2²) and U[−2, 2]); the ODE (DDIM) transports p̃ and p by the same map, so the KL stays about
# constant (Thm 3.2); the SDE (DDPM) and Cycle-SDE contract it (Thms 3.1, 3.3). Cycle-SDE records its residuals
# on forward trajectories of real data samples, then replays them from the mismatched prior.
#
# Estimator: the KL of the sample histogram (200 bins over ±6 std of p_t, plus two tail bins) against p_t's exact
# bin masses (from its CDF): a plug-in estimate, biased upward by about bins/(2N) ≈ 0.003, and a lower bound of
# the true KL up to that bias (binning can only lose divergence).

TOY_N, TOY_STEPS, TOY_CHECKS = 30_000, 40, (10, 20, 30, 40)
TOY_METHODS = ("ddim", "ddpm", "cycle_sde")
TOY_PRIORS = {"normal": "N(2, 2²)", "uniform": "U[−2, 2]"}
_D = torch.float64


def toy_data(path: str) -> GaussianMixture:
    """Two well separated modes, as in the paper's 1-D illustration."""
    return GaussianMixture(
        torch.tensor([0.4, 0.6], dtype=_D),
        torch.tensor([-1.0, 1.0], dtype=_D),
        torch.tensor([0.05, 0.05], dtype=_D),
        path,
    )


def histogram_kl(x: Tensor, mix: GaussianMixture, sigma: float, bins: int = 200) -> float:
    """KL(histogram of x ‖ p_σ) with p_σ's exact bin masses (1-D mixtures)."""
    a, s = coeffs(torch.tensor(sigma, dtype=_D), mix.path)
    m, sd = a * mix.means, (a**2 * mix.variances + s**2).sqrt()
    edges = torch.linspace((m - 6 * sd).min().item(), (m + 6 * sd).max().item(), bins + 1, dtype=_D)
    cdf = (mix.weights[:, None] * torch.special.ndtr((edges[None] - m[:, None]) / sd[:, None])).sum(0)
    q = torch.cat([cdf[:1], cdf[1:] - cdf[:-1], 1 - cdf[-1:]])
    p = torch.bincount(torch.bucketize(x, edges), minlength=bins + 2).to(_D) / x.numel()
    kept = p > 0
    return (p[kept] * (p[kept] / q[kept]).log()).sum().item()


def toy_grid(path: str, steps: int = TOY_STEPS) -> Tensor:
    """The levels: σ from 1.5 (VE) or 0.7 (flow) down to 0, uniformly."""
    return torch.linspace(0.7, 0.0, steps + 1, dtype=_D) if path == "flow" else torch.linspace(1.5, 0.0, steps + 1)


def kl_along(
    method: str, path: str, prior: str, checks=TOY_CHECKS, n: int = TOY_N, steps: int = TOY_STEPS
) -> list[float]:
    """KL at σ_0 and after each step in `checks` of `method` started from the mismatched prior."""
    mix = toy_data(path)
    sigmas = toy_grid(path, steps)
    g = torch.Generator().manual_seed(0)
    x = 2 + 2 * torch.randn(n, generator=g, dtype=_D) if prior == "normal" else 4 * torch.rand(n, generator=g) - 2
    kls = [histogram_kl(x, mix, sigmas[0].item())]

    def measure(i, state, x0_hat):
        if i + 1 in checks:
            kls.append(histogram_kl(state, mix, sigmas[i + 1].item()))

    if method == "cycle_sde":
        source = record_cycle_sde(mix, forward_trajectory(mix.sample(n, g), sigmas, path, g), 1.0)
        sample(mix, x.to(_D), source, method, 1.0, callback=measure)
    else:
        noise = gaussian_noise(x.to(_D), g)
        sample(mix, x.to(_D), sigmas, method, 1.0, path=path, noise_sampler=noise, callback=measure)
    return kls
