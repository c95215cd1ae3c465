"""The one-step kernels: docs/design.md §2 (Nie et al. 2024, Eqs. 6–8, Algorithms 2–5).

Notation (paper ↔ code), for two levels s < t (s is the less noisy one):

    a_t, s_t    path coefficients at t, x_t = a_t·x0 + s_t·ε (`schedule.coeffs`)
    x0_hat      x̂0, the model's denoised estimate at the state
    eps_hat     ε̂ = (x_t − a_t·x̂0) / s_t, the noise it implies
    rho         ρ = a_t·s_s / (a_s·s_t) ∈ [0, 1): the share of ε̂ a DDPM step keeps
    tau         τ = s_s·sqrt(1 − ρ²), the DDPM posterior std (the paper's σ_t in Eq. 6)
    z, w        standard normal noise

The kernels:

    forward step, Eq. 7        x_t = (a_t/a_s)·x_s + sqrt(s_t² − (a_t/a_s)²·s_s²)·z
    DDIM step (η = 0), Eq. 6   x_s = a_s·x̂0 + s_s·ε̂                                    (Alg. 2)
    DDIM inversion             the same step from s up to t, x̂0 and ε̂ taken at x_s      (Alg. 4)
    DDPM step (η = 1), Eq. 6   x_s = μ + τ·w,  μ = a_s·x̂0 + sqrt(s_s² − τ²)·ε̂ = a_s·x̂0 + s_s·ρ·ε̂  (Alg. 3)
    Cycle-SDE noise, Eq. 8     w' = (x_s − μ(x_t)) / τ                                   (Alg. 5)
    coupled step               y_s = μ(y_t) + r,  r = x_s − μ(x_t)  (= τ·w' where τ > 0)
    Euler–Maruyama step        x_s = m + g·sqrt(Δσ)·w,  m = κ·x_t − 2·(κ·s_t − s_s)·ε̂,  κ = a_s/a_t,
                               g²·Δσ = 2·s_t·(κ·s_t − s_s)                             (sync-SDE, §6)

The coupled step is the one mechanism behind Cycle-SDE (record r on the forward trajectory,
replay it from the edited state) and sync-SDE (docs/design.md §6). It is written once, for any
deterministic part `mean` of a reverse step (`ddpm_mean`, the default, or `em_mean`).

The Euler–Maruyama step discretizes the reverse SDE of the path, with σ as time and the drift and
diffusion taken at σ_t (as the sync-SDE authors' rectified-flow code does). The forward SDE of
x = a·x0 + s·ε is dx = f·x·dσ + g·dW with f = a'/a, g² = 2·s·(s' − s·a'/a) (' = d/dσ); one step
down by Δσ = σ_t − σ_s is x_s = x_t + Δσ·(−f·x_t − (g²/s_t)·ε̂) + g·sqrt(Δσ)·w. On both paths a and
s are affine in σ (s = σ; a = 1 or 1 − σ), so Δσ = s_t − s_s and a' = (a_t − a_s)/Δσ exactly, which
gives the (a, s) form above: on flow it is the authors' drift 2·(x̂0 − ε̂) − x/(1 − σ) per unit
decrease of σ with g² = 2σ/(1 − σ) (the authors' `v_t = −noise_pred = x̂0 − ε̂`); on VE it is
x_t − 2·Δσ·ε̂ with g² = 2σ. In VP terms τ is the paper's
σ_t = sqrt((1−ᾱ_s)/(1−ᾱ_t))·sqrt(1 − ᾱ_t/ᾱ_s); on VE (a = 1) τ is k-diffusion's `sigma_up` and
s_s·ρ its `sigma_down`.

Coefficients are tensors that broadcast against x (0-d, or [N, 1, …] per sample). Edge levels:

- σ_s = 0, a grid's clean end: τ = 0 and the DDPM step is deterministic, x_s = a_s·x̂0. Eq. 8's w'
  is undefined there, the residual r is not: the coupled step is exact at every level.
- σ_t = 1 on flow (a_t = 0): the forward step returns pure noise z; ρ = 0 and μ = a_s·x̂0. The
  Euler–Maruyama step is undefined there (κ = ∞: the reverse SDE's drift is singular at a = 0).
- s = 0 in ε̂ (an inversion that starts at σ = 0): ε̂ is 0/0 there; its limit is 0 (ε̂ = −s·∇log p,
  which vanishes with s), and that is what `eps_hat` returns.
"""

from collections.abc import Callable

import torch
from torch import Tensor

Mean = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
"""`mean(x_t, x0_hat, a_t, s_t, a_s, s_s)`: the deterministic part of one reverse step from t down to s."""


def eps_hat(x: Tensor, x0_hat: Tensor, a: Tensor, s: Tensor) -> Tensor:
    """Implied noise ε̂ = (x − a·x̂0)/s; 0 where s = 0 (its limit as s → 0)."""
    positive = s > 0
    return torch.where(positive, (x - a * x0_hat) / torch.where(positive, s, 1), 0)


def forward_step(x_s: Tensor, a_s: Tensor, s_s: Tensor, a_t: Tensor, s_t: Tensor, z: Tensor) -> Tensor:
    """Eq. 7: one noise-adding step from level s up to t > s, a sample of q(x_t | x_s)."""
    ratio = a_t / a_s
    std = (s_t**2 - (ratio * s_s) ** 2).clamp(min=0).sqrt()
    return ratio * x_s + std * z


def ddim_step(x_t: Tensor, x0_hat: Tensor, a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor) -> Tensor:
    """Eq. 6 with η = 0 (Alg. 2): x_s = a_s·x̂0 + s_s·ε̂. Run from s up to t it is DDIM inversion (Alg. 4)."""
    eps = eps_hat(x_t, x0_hat, a_t, s_t)
    return a_s * x0_hat + s_s * eps


def ddpm_rho(a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor) -> Tensor:
    """ρ = a_t·s_s / (a_s·s_t): the DDPM step keeps s_s·ρ of ε̂ (needs s_t > 0, a_s > 0)."""
    return (a_t * s_s) / (a_s * s_t)


def ddpm_std(a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor) -> Tensor:
    """τ = s_s·sqrt(1 − ρ²), the std of q(x_s | x_t, x0) (Eq. 6 with η = 1)."""
    rho = ddpm_rho(a_t, s_t, a_s, s_s)
    return s_s * (1 - rho**2).clamp(min=0).sqrt()


def ddpm_mean(x_t: Tensor, x0_hat: Tensor, a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor) -> Tensor:
    """μ = a_s·x̂0 + sqrt(s_s² − τ²)·ε̂ = a_s·x̂0 + s_s·ρ·ε̂, the deterministic part of a DDPM step."""
    eps = eps_hat(x_t, x0_hat, a_t, s_t)
    rho = ddpm_rho(a_t, s_t, a_s, s_s)
    return a_s * x0_hat + s_s * rho * eps


def ddpm_step(
    x_t: Tensor, x0_hat: Tensor, a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor, w: Tensor
) -> Tensor:
    """Eq. 6 with η = 1 (Alg. 3): x_s = μ + τ·w, a sample of q(x_s | x_t, x0 = x̂0)."""
    mu = ddpm_mean(x_t, x0_hat, a_t, s_t, a_s, s_s)
    tau = ddpm_std(a_t, s_t, a_s, s_s)
    return mu + tau * w


def em_mean(x_t: Tensor, x0_hat: Tensor, a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor) -> Tensor:
    """m = κ·x_t − 2·(κ·s_t − s_s)·ε̂, κ = a_s/a_t: the drift part of an Euler–Maruyama step (needs a_t > 0)."""
    eps = eps_hat(x_t, x0_hat, a_t, s_t)
    kappa = a_s / a_t
    return kappa * x_t - 2 * (kappa * s_t - s_s) * eps


def em_std(a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor) -> Tensor:
    """g·sqrt(Δσ) = sqrt(2·s_t·(κ·s_t − s_s)), the std of an Euler–Maruyama step's noise (needs a_t > 0)."""
    kappa = a_s / a_t
    return (2 * s_t * (kappa * s_t - s_s)).clamp(min=0).sqrt()


def cycle_residual(
    x_s: Tensor,
    x_t: Tensor,
    x0_hat: Tensor,
    a_t: Tensor,
    s_t: Tensor,
    a_s: Tensor,
    s_s: Tensor,
    mean: Mean = ddpm_mean,
) -> Tensor:
    """r = x_s − μ(x_t) for a recorded pair (x_t, x_s): τ·w' of Eq. 8, and defined at τ = 0 too."""
    return x_s - mean(x_t, x0_hat, a_t, s_t, a_s, s_s)


def cycle_noise(
    x_s: Tensor, x_t: Tensor, x0_hat: Tensor, a_t: Tensor, s_t: Tensor, a_s: Tensor, s_s: Tensor
) -> Tensor:
    """Eq. 8 (Alg. 5): w' = (x_s − μ(x_t)) / τ, the noise that takes a DDPM step from x_t to x_s (τ > 0)."""
    return cycle_residual(x_s, x_t, x0_hat, a_t, s_t, a_s, s_s) / ddpm_std(a_t, s_t, a_s, s_s)


def coupled_step(
    y_t: Tensor,
    y0_hat: Tensor,
    r: Tensor,
    a_t: Tensor,
    s_t: Tensor,
    a_s: Tensor,
    s_s: Tensor,
    mean: Mean = ddpm_mean,
) -> Tensor:
    """y_s = μ(y_t) + r: a reverse step driven by a residual r = x_s − μ(x_t) (Cycle-SDE replay, sync-SDE)."""
    return mean(y_t, y0_hat, a_t, s_t, a_s, s_s) + r
