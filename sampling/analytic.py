"""Exact denoisers for Gaussian data: test oracles and benchmark models (docs/design.md §7).

On a path x = a·x0 + s·ε (`schedule.coeffs`), data x0 ~ N(μ, v·I) gives

    x ~ N(a·μ, (a²·v + s²)·I),      E[x0 | x] = μ + a·v / (a²·v + s²) · (x − a·μ)

(Tweedie: E[x0 | x] = (x + s²·∇log p(x)) / a). An isotropic mixture Σ_k π_k·N(μ_k, v_k·I) in D
dimensions gives the same per component, weighted by the responsibilities

    ρ_k(x) ∝ π_k·N(x; a·μ_k, (a²·v_k + s²)·I),      E[x0 | x] = Σ_k ρ_k(x)·E_k[x0 | x].

Both are `denoise(x [N, …], sigma [N], scale [N]) -> x̂0` callables that ignore the scale; `Guided`
combines two of them as classifier-free guidance does: x̂0 = u + w·(c − u). The event shape is x's
shape without the batch dimension (x may be [N] for 1-D data).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

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
