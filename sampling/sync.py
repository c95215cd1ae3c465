"""sync-SDE: semantic editing with coupled SDEs (docs/design.md §6; Zhang & Scott 2025, arXiv 2509.24223).

Two paths over the levels σ_0 > σ_1 > … > σ_n, both started at the same x_0:

    source   x_n = x0 (the input), x_i = forward_step(x_{i+1} → σ_i, z_i)       Eq. 7, no model calls:
             one Brownian path, `forward_trajectory` (a Markov chain)
    target   y_0 = x_0, then for step i = σ_i → σ_{i+1}:

             x̂0_i, ŷ0_i = denoise([x_i; y_i], σ_i, [w_src,i; w_tgt,i])     ONE call: source rows, target rows
             r_i        = x_{i+1} − m(x_i, x̂0_i)     the noise the source path implies under the source prompt
             y_{i+1}    = m(y_i, ŷ0_i) + r_i         the coupled step (kernels.coupled_step)

and y_n is the edit. The loop is `samplers.sample_coupled`, the same one SDE-Drag's fused Cycle-SDE
runs (there both halves share a prompt and y starts at the pasted x_0). `m` is the deterministic
part of one reverse step, the discretization:

    "euler_maruyama"  kernels.em_mean: Euler–Maruyama on the reverse SDE with σ as time, the authors'
                      rectified-flow scheme (drift 2·(x̂0 − ε̂) − x/(1 − σ) per unit decrease of σ,
                      g² = 2σ/(1 − σ)); on VE the same construction gives x_t − 2·Δσ·ε̂, g² = 2σ.
                      Undefined at σ = 1 on flow (a = 0), where the authors' code adds 1e-3 to 1 − σ:
                      start below it (their default starts at step 4 of 28).
    "ddpm"            kernels.ddpm_mean: the DDPM step (Eq. 6, η = 1). This is exactly Cycle-SDE:
                      `record_cycle_sde` with the source prompt, then `sample(…, "cycle_sde")` with the
                      target, computed on the fly in one pass.

Only the difference of the two drifts moves y away from x: with the same conditioning and scale on
both rows, y_i = x_i at every step and the output is x_n = x0 (up to the float rounding of m + r).
For a model whose x̂0 is affine in x (Gaussian data), y_n − x0 does not depend on the noise at all.

Denoiser contract: the samplers' `denoise(x [N, …], sigma [N], scale [N]) -> x̂0 [N, …]` with N = 2B
rows, of which the first B are evaluated under the SOURCE conditioning and the last B under the
TARGET (the adapter maps rows to conditionings; `paired` builds one from two denoisers). Both
halves are known before the call, so a step costs one batched call.

The grid may end at σ_n > 0: x0 is then taken as the state at σ_n, as elsewhere in the pack.
Randomness enters only through a torch.Generator or a k-diffusion-style `noise_sampler(σ, σ_next)`
(for the source path). No input tensor is modified.
"""

import torch
from torch import Tensor

from .kernels import Mean, ddpm_mean, em_mean
from .samplers import Callback, Denoiser, NoiseSampler, _state_dtype, forward_trajectory, sample_coupled
from .schedule import check_path, check_sigmas

DISCRETIZATIONS: dict[str, Mean] = {"euler_maruyama": em_mean, "ddpm": ddpm_mean}


def check_discretization(name: str) -> Mean:
    """The deterministic step named `name`, or a ValueError listing the names."""
    if name not in DISCRETIZATIONS:
        raise ValueError(f"unknown discretization {name!r}: use one of {', '.join(DISCRETIZATIONS)}")
    return DISCRETIZATIONS[name]


def check_start(sigmas: Tensor, path: str, discretization: str) -> None:
    """Euler–Maruyama cannot start where a = 0 (σ = 1 on flow): a ValueError that says what to change."""
    if discretization == "euler_maruyama" and check_path(path) == "flow" and float(sigmas[0]) >= 1.0:
        raise ValueError(
            "euler_maruyama cannot start at σ = 1 on a flow model (pure noise: the reverse SDE's drift is "
            "singular there): start one or more steps below it (the authors run 28 steps from step 4: "
            "steps 24, t0 ≈ 0.86), or use the ddpm discretization"
        )


def paired(source: Denoiser, target: Denoiser) -> Denoiser:
    """One denoiser of the sync contract from two: rows [:N/2] go to `source`, rows [N/2:] to `target`."""

    def denoise(x: Tensor, sigma: Tensor, scale: Tensor) -> Tensor:
        b = x.shape[0] // 2
        return torch.cat([source(x[:b], sigma[:b], scale[:b]), target(x[b:], sigma[b:], scale[b:])])

    return denoise


def sync_sde(
    denoise: Denoiser,
    x0: Tensor,
    sigmas: Tensor,
    path: str,
    noise: torch.Generator | NoiseSampler,
    *,
    discretization: str = "euler_maruyama",
    source_scales: Tensor | float = 1.0,
    target_scales: Tensor | float = 1.0,
    callback: Callback | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """The target path y_n of sync-SDE from the input x0 over `sigmas` (see the module doc), in x0's dtype.

    `noise` drives the source path (a Generator, or a noise sampler as in `forward_trajectory`); the
    scales are one number or one per step; `callback(i, y_{i+1}, ŷ0_i)` after each step.
    """
    mean = check_discretization(discretization)
    check_sigmas(sigmas, path)
    check_start(sigmas, path, discretization)
    dt = _state_dtype(x0, dtype)
    source = forward_trajectory(x0, sigmas, path, noise, markov=True, dtype=dt)
    y = sample_coupled(denoise, source.latents[0], source, target_scales, source_scales=source_scales,
                       callback=callback, mean=mean)
    return y.to(x0.dtype)
