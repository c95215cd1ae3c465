"""Shared pieces of the unit tests: level grids, test models and a call-counting denoiser."""

import torch
from torch import Tensor

from sampling import Gaussian, GaussianMixture, Guided

SHAPE = (3, 4, 8, 8)  # a batch of 3 small "latents"


def karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """n levels from sigma_max down to sigma_min, Karras et al. spacing (float64)."""
    r = torch.linspace(0, 1, n, dtype=torch.float64)
    return (sigma_max ** (1 / rho) + r * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


def grid(path: str, n: int, end: str = "zero", t0: float = 0.8) -> Tensor:
    """n steps on `path`, ending at σ = 0 ("zero") or at a small σ_min ("min"); flow starts at σ = t0."""
    if path == "flow":
        return torch.linspace(t0, 0.0 if end == "zero" else 0.02, n + 1, dtype=torch.float64)
    sigma_max = 5.0 * t0
    if n == 1 and end == "min":
        return torch.tensor([sigma_max, 0.03], dtype=torch.float64)
    if end == "zero":
        return torch.cat([karras(n, 0.03, sigma_max), torch.zeros(1, dtype=torch.float64)])
    return karras(n + 1, 0.03, sigma_max)


def field(seed: int, shape: tuple[int, ...] = SHAPE[1:]) -> Tensor:
    """A fixed random tensor (a mean image), float64."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def models(path: str) -> dict[str, object]:
    """Named test denoisers on `path`: a Gaussian, two guided Gaussians (cond ≠ uncond), a guided mixture."""
    plain = Gaussian(field(1), 0.25, path)
    guided = Guided(cond=Gaussian(field(2), 0.25, path), uncond=Gaussian(field(3), 0.25, path))
    means = torch.stack([field(4), field(5)]) * 0.3
    mix = Guided(
        cond=GaussianMixture(torch.tensor([0.3, 0.7]), means, torch.tensor([0.2, 0.4]), path),
        uncond=GaussianMixture(torch.tensor([0.6, 0.4]), means, torch.tensor([0.2, 0.4]), path),
    )
    return {"gaussian": plain, "guided": guided, "guided_mixture": mix}


class Counting:
    """Wraps a denoiser; records each call's batch size, σ and scale (and checks the contract)."""

    def __init__(self, denoise):
        self.denoise = denoise
        self.calls: list[tuple[int, Tensor, Tensor]] = []

    def __call__(self, x: Tensor, sigma: Tensor, scale: Tensor) -> Tensor:
        assert sigma.shape == (x.shape[0],) and scale.shape == (x.shape[0],), "σ and scale are per sample"
        self.calls.append((x.shape[0], sigma.clone(), scale.clone()))
        return self.denoise(x, sigma, scale)

    @property
    def count(self) -> int:
        """Number of calls so far."""
        return len(self.calls)
