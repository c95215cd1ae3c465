"""The samplers: loops over the kernels (docs/design.md §3; Nie et al. 2024, Algorithms 2–5).

Stage 1 (from the clean input x0 = x_n up to x_0 at σ_0 = σ(t0)):

    forward_trajectory   x_i = forward_step(x_{i+1} → σ_i, z_i)  (Eq. 7, a Markov chain)  or, with
                         markov=False, x_i ~ q(x_i | x_n) independently (edit-friendly inversion)
    ddim_invert          x_i = ddim_step(x_{i+1}, x̂0(x_{i+1}, σ_{i+1}, w_i), σ_{i+1} → σ_i)   (Alg. 4)
    record_cycle_sde     r_i = x_{i+1} − μ(x_i, x̂0(x_i, σ_i, w_i), σ_i → σ_{i+1})        (Eq. 8, Alg. 5)

Stage 2 (from x̃_0 at σ_0 down to σ_n), step i = σ_i → σ_{i+1} with x̂0 = denoise(x̃_i, σ_i, w_i):

    "ddim"        x̃_{i+1} = ddim_step(x̃_i, x̂0)                   (ODE, Eq. 6 with η = 0)
    "ddpm"        x̃_{i+1} = ddpm_step(x̃_i, x̂0, w),  w = noise_sampler(σ_i, σ_{i+1})   (SDE, η = 1)
    "cycle_sde"   x̃_{i+1} = μ(x̃_i, x̂0) + r_i                      (Cycle-SDE, Eq. 6 with w = w'_i)
    mask          x̃_{i+1} ← m·x̃_{i+1} + (1 − m)·x_{i+1}            (m = 1 editable, at the OUTPUT level)

Denoiser contract: `denoise(x [N, …], sigma [N], scale [N]) -> x̂0 [N, …]`, per-sample σ and guidance
scale, so one call can mix steps (record_cycle_sde batches `batch_size` steps per call). Each step
makes exactly one call, except an inversion step from σ = 0, which needs none (x̂0 = x/a there, ε̂ → 0).

The last level: grids may end at σ_n = 0. There τ = 0, the DDPM step is deterministic
(x_n = a·x̂0), and the recorded residual r_{n−1} = x0 − μ(x_{n−1}) makes Cycle-SDE exact at every
step including the last one. Grids that end at σ_n > 0 take x0 as the state at σ_n, as the paper's
code does.

The solver state is kept in `dtype` (default: float32, or the trajectory's dtype in stage 2; pass
float64 for exact reconstruction under strong guidance, the paper's Table 3); `denoise` gets the state
and its result is cast back. Randomness enters only through a torch.Generator or a k-diffusion-style
`noise_sampler(sigma, sigma_next)`. No input tensor is modified.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .kernels import Mean, coupled_step, cycle_residual, ddim_step, ddpm_mean, ddpm_std, forward_step
from .schedule import check_sigmas, check_steps, coeffs
from .trajectory import Trajectory, check_method

Denoiser = Callable[[Tensor, Tensor, Tensor], Tensor]
NoiseSampler = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[[int, Tensor, Tensor], Any]
Levels = tuple[Tensor, Tensor, Tensor, Tensor]
Drive = Callable[[int, Tensor, Levels], tuple[Tensor, Tensor | None]]


def gaussian_noise(like: Tensor, generator: torch.Generator) -> NoiseSampler:
    """A noise sampler of N(0, I) draws shaped like `like`, drawn in float32 from `generator`."""

    def noise_sampler(sigma: Tensor, sigma_next: Tensor) -> Tensor:
        z = torch.randn(like.shape, generator=generator, dtype=torch.float32, device=generator.device)
        return z.to(like.device, like.dtype)

    return noise_sampler


def _levels(sigmas: Tensor, path: str, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, ...]:
    """(σ, a, s) per level, computed in float64 and then cast, so record and replay agree bit for bit."""
    sig = sigmas.detach().to("cpu", torch.float64)
    a, s = coeffs(sig, path)
    return tuple(v.to(device, dtype) for v in (sig, a, s))


def _state_dtype(x: Tensor, dtype: torch.dtype | None) -> torch.dtype:
    """The solver dtype: `dtype`, or x's dtype promoted to at least float32."""
    return dtype if dtype is not None else torch.promote_types(x.dtype, torch.float32)


def _start(x0: Tensor, sigmas: Tensor, path: str, dtype: torch.dtype | None) -> tuple[Tensor, ...]:
    """Stage 1's start: the checked grid, x0 copied into the solver dtype, and (σ, a, s) per level."""
    check_sigmas(sigmas, path)
    x = x0.detach().to(_state_dtype(x0, dtype), copy=True)
    return (x, *_levels(sigmas, path, x.dtype, x.device))


def _scales(scales: Tensor | float, n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The n per-step guidance scales as a 1-D tensor (a number means the same scale at every step)."""
    w = torch.as_tensor(scales, dtype=dtype).to(device)
    if w.ndim == 0:
        return w.expand(n)
    if w.shape != (n,):
        raise ValueError(f"got {w.numel()} scales for {n} steps: make them with guidance_scales({n}, …)")
    return w


def _per_sample(v: Tensor, x: Tensor) -> Tensor:
    """Reshape per-sample values [N] to [N, 1, …] so they broadcast against x [N, …]."""
    return v.reshape(-1, *([1] * (x.ndim - 1)))


def _denoise(denoise: Denoiser, x: Tensor, sigma: Tensor, scale: Tensor) -> Tensor:
    """One model call with per-sample σ and scale (scalars are repeated); x̂0 comes back in x's dtype."""
    n = x.shape[0]
    sigma, scale = (v.reshape(-1).expand(n).clone() if v.numel() == 1 else v for v in (sigma, scale))
    x0_hat = denoise(x, sigma, scale)
    assert x0_hat.shape == x.shape, f"the denoiser returned {tuple(x0_hat.shape)} for input {tuple(x.shape)}"
    return x0_hat.to(x.device, x.dtype)


def forward_trajectory(
    x0: Tensor,
    sigmas: Tensor,
    path: str,
    generator: torch.Generator | NoiseSampler,
    markov: bool = True,
    dtype: torch.dtype | None = None,
    meta: dict[str, Any] | None = None,
) -> Trajectory:
    """Stage 1, model-free: noise x0 (= x_n) up to σ_0 by Eq. 7, as a chain or as independent marginals."""
    x_n, sig, a, s = _start(x0, sigmas, path, dtype)
    noise = generator if callable(generator) else gaussian_noise(x_n, generator)
    n = sig.numel() - 1
    latents: list[Tensor] = [x_n] * (n + 1)
    for i in range(n - 1, -1, -1):
        z = noise(sig[i + 1], sig[i]).to(x_n.device, x_n.dtype)
        j = i + 1 if markov else n
        latents[i] = forward_step(latents[j], a[j], s[j], a[i], s[i], z)
    return Trajectory(sigmas, path, tuple(latents), "noise_adding", meta=meta or {})


def ddim_invert(
    denoise: Denoiser,
    x0: Tensor,
    sigmas: Tensor,
    path: str,
    scales: Tensor | float,
    callback: Callback | None = None,
    dtype: torch.dtype | None = None,
    meta: dict[str, Any] | None = None,
) -> Trajectory:
    """Alg. 4: the DDIM step run upward from x0 (= x_n) to σ_0; the step σ_{i+1} → σ_i uses scale w_i."""
    x, sig, a, s = _start(x0, sigmas, path, dtype)
    n = sig.numel() - 1
    w = _scales(scales, n, x.dtype, x.device)
    latents: list[Tensor] = [x] * (n + 1)
    for k, i in enumerate(range(n - 1, -1, -1)):
        if s[i + 1] > 0:
            x0_hat = _denoise(denoise, x, sig[i + 1], w[i])
        else:
            x0_hat = x / a[i + 1]  # at σ = 0 the state is its own x̂0; ε̂ → 0 (kernels.eps_hat)
        x = ddim_step(x, x0_hat, a[i + 1], s[i + 1], a[i], s[i])
        latents[i] = x
        if callback is not None:
            callback(k, x, x0_hat)
    return Trajectory(sigmas, path, tuple(latents), "ddim_inversion", meta=meta or {})


def record_cycle_sde(
    denoise: Denoiser,
    forward: Trajectory,
    scales: Tensor | float,
    batch_size: int | None = None,
    callback: Callback | None = None,
) -> Trajectory:
    """Alg. 5: the residual r_i = x_{i+1} − μ(x_i) of each step of `forward`, `batch_size` steps per call."""
    if forward.kind != "noise_adding":
        raise ValueError(f"Cycle-SDE records on a noise-adding (forward) trajectory, not {forward.kind!r}")
    if batch_size is not None:
        check_steps(batch_size, "batch_size (steps per model call)")
    x = forward.latents
    dt, device, b = x[0].dtype, x[0].device, x[0].shape[0]
    n = forward.steps
    sig, a, s = _levels(forward.sigmas, forward.path, dt, device)
    w = _scales(scales, n, dt, device)
    size = n if batch_size is None else min(batch_size, n)
    residuals: list[Tensor] = []
    for start in range(0, n, size):
        i = torch.arange(start, min(start + size, n), device=device)
        x_t = torch.cat([x[k] for k in i.tolist()])
        x_s = torch.cat([x[k + 1] for k in i.tolist()])
        x0_hat = _denoise(denoise, x_t, sig[i].repeat_interleave(b), w[i].repeat_interleave(b))
        levels = (a[i], s[i], a[i + 1], s[i + 1])
        a_t, s_t, a_s, s_s = (_per_sample(v.repeat_interleave(b), x_t) for v in levels)
        r = cycle_residual(x_s, x_t, x0_hat, a_t, s_t, a_s, s_s)
        residuals.extend(r.split(b))
        if callback is not None:
            for k, x0_k in zip(i.tolist(), x0_hat.split(b), strict=True):
                callback(k, x[k + 1], x0_k)
    return Trajectory(
        forward.sigmas, forward.path, forward.latents, "cycle_sde", tuple(residuals), meta=forward.meta
    )


def _check_mask(mask: Tensor | None, x: Tensor) -> Tensor | None:
    """The mask in x's dtype if it broadcasts to x and lies in [0, 1], else a ValueError."""
    if mask is None:
        return None
    try:
        fits = torch.broadcast_shapes(mask.shape, x.shape) == x.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"the mask of shape {list(mask.shape)} does not fit latents of shape {list(x.shape)}: "
            "resize it to the latent size, as [B or 1, 1, h, w]"
        )
    if mask.min() < 0 or mask.max() > 1:
        raise ValueError("mask values must lie in [0, 1] (1 = editable)")
    return mask.to(x.device, x.dtype)


def _replay(
    drive: Drive,
    state: Tensor,
    a: Tensor,
    s: Tensor,
    mean: Mean,
    mask: Tensor | None,
    latents: tuple[Tensor, ...] | None,
    callback: Callback | None,
) -> Tensor:
    """The one stage-2 loop, shared by `sample` and `sample_coupled`. Step i = σ_i → σ_{i+1}:

        x̂0, r_i  = drive(i, x̃_i, (a_i, s_i, a_{i+1}, s_{i+1}))   the step's one model call, and its residual
        x̃_{i+1}  = μ(x̃_i, x̂0) + r_i                             kernels.coupled_step (μ alone if r_i is None)
        x̃_{i+1} ← m·x̃_{i+1} + (1 − m)·x_{i+1}                    the mask, at the output level

    then `callback(i, x̃_{i+1}, x̂0)`. The DDPM step is μ + r with r = τ·w, Cycle-SDE μ + r with the
    recorded r, DDIM the bare μ = ddim_step.
    """
    for i in range(a.numel() - 1):
        t_s = (a[i], s[i], a[i + 1], s[i + 1])
        x0_hat, r = drive(i, state, t_s)
        state = mean(state, x0_hat, *t_s) if r is None else coupled_step(state, x0_hat, r, *t_s, mean=mean)
        if mask is not None:
            state = mask * state + (1 - mask) * latents[i + 1].to(state)
        if callback is not None:
            callback(i, state, x0_hat)
    return state


def sample(
    denoise: Denoiser,
    x: Tensor,
    source: Trajectory | Tensor,
    method: str,
    scales: Tensor | float,
    *,
    path: str | None = None,
    noise_sampler: NoiseSampler | None = None,
    mask: Tensor | None = None,
    callback: Callback | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Stage 2: from x̃ at σ_0 down to σ_n by "ddim", "ddpm" or "cycle_sde"; returns x̃_n in x's dtype.

    `source` is a Trajectory (needed by "cycle_sde" and by a mask) or bare sigmas (then give `path`).
    """
    check_method(method)
    if isinstance(source, Trajectory):
        traj = source.check(like=x, path=path, method=method)
        sigmas, path = traj.sigmas, traj.path
    else:
        traj, sigmas = None, source
        if path is None:
            raise ValueError("sampling on bare sigmas needs the model's path: pass path='ve' or path='flow'")
        check_sigmas(sigmas, path)
        if method == "cycle_sde" or mask is not None:
            raise ValueError("Cycle-SDE and masks need a recorded trajectory: pass it instead of bare sigmas")
    if method == "ddpm" and noise_sampler is None:
        raise ValueError("the SDE sampler (ddpm) needs noise: pass noise_sampler=gaussian_noise(x, gen)")
    dt = dtype if dtype is not None else traj.x0.dtype if traj is not None else _state_dtype(x, None)
    state = x.detach().to(dt)
    m = _check_mask(mask, state)
    sig, a, s = _levels(sigmas, path, dt, state.device)
    w = _scales(scales, sig.numel() - 1, dt, state.device)

    def drive(i: int, state: Tensor, t_s: Levels) -> tuple[Tensor, Tensor | None]:
        x0_hat = _denoise(denoise, state, sig[i], w[i])
        if method == "ddim":
            return x0_hat, None
        if method == "ddpm":
            z = noise_sampler(sig[i], sig[i + 1]).to(state) if s[i + 1] > 0 else torch.zeros_like(state)
            return x0_hat, ddpm_std(*t_s) * z
        return x0_hat, traj.residuals[i].to(state)

    mean = ddim_step if method == "ddim" else ddpm_mean
    latents = traj.latents if traj is not None else None
    return _replay(drive, state, a, s, mean, m, latents, callback).to(x.dtype)


def sample_coupled(
    denoise: Denoiser,
    y: Tensor,
    forward: Trajectory,
    scales: Tensor | float,
    *,
    source_scales: Tensor | float | None = None,
    mask: Tensor | None = None,
    residual: Callable[[int, Tensor, Tensor], Tensor] | None = None,
    callback: Callback | None = None,
    mean: Mean = ddpm_mean,
) -> Tensor:
    """Cycle-SDE with the recording fused into the sampling calls: one model call per step.

    Step i evaluates the model once on the batch [x_i ; y_i] (source rows first, then the
    edited rows; the caller's denoiser decides which conditioning each half gets), then

        r_i     = x_{i+1} − μ(x_i, x̂0_src)        the residual of the forward path (Eq. 8 × τ)
        y_{i+1} = μ(y_i, x̂0_tgt) + r_i            the coupled step (kernels.coupled_step)

    which is `record_cycle_sde` followed by `sample(…, "cycle_sde")`, computed step by step as the
    authors' current SDE-Drag code does, and sync-SDE (docs/design.md §6, sampling/sync.py) when the
    two halves are conditioned differently; `mean` is the deterministic part of the reverse step
    (DDPM by default, or kernels.em_mean for sync-SDE's Euler–Maruyama). `forward` is a noise-adding
    trajectory; y starts at σ_0 (its edited x_0). A mask blends at each output level, as in `sample`.

    `residual(i, r_i, τ_i) -> r_i'` edits the residual before it drives step i (DDPM steps only, `mean` =
    ddpm_mean; τ_i is the step's DDPM std): e.g. fresh noise τ_i·w inside a region (plain DDPM there, the
    recorded residual not replayed), or the residual moved with a drag (sampling.drag).
    """
    if forward.kind != "noise_adding":
        raise ValueError(f"the coupled sampler follows a noise-adding (forward) trajectory, not {forward.kind!r}")
    forward.check(like=y)
    x = forward.latents
    dt, b = x[0].dtype, y.shape[0]
    state = y.detach().to(dt)
    m = _check_mask(mask, state)
    sig, a, s = _levels(forward.sigmas, forward.path, dt, state.device)
    n = forward.steps
    w_tgt = _scales(scales, n, dt, state.device)
    w_src = w_tgt if source_scales is None else _scales(source_scales, n, dt, state.device)
    if residual is not None and mean is not ddpm_mean:
        raise ValueError("editing the residual is defined for DDPM steps only (mean = ddpm_mean)")

    def drive(i: int, state: Tensor, t_s: Levels) -> tuple[Tensor, Tensor]:
        x_t = x[i].to(state)
        both = torch.cat([x_t, state])
        sigma = sig[i].expand(2 * b)
        scale = torch.cat([w_src[i].expand(b), w_tgt[i].expand(b)])
        x0_src, x0_tgt = _denoise(denoise, both, sigma, scale).split(b)
        r = cycle_residual(x[i + 1].to(state), x_t, x0_src, *t_s, mean=mean)
        if residual is not None:
            r = residual(i, r, ddpm_std(*t_s))
        return x0_tgt, r

    return _replay(drive, state, a, s, mean, m, x, callback).to(y.dtype)
