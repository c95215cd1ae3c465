"""Noise levels and the Gaussian path they index (docs/design.md §1).

Every model family ComfyUI runs noises data along a Gaussian path

    x_t = a_t·x0 + s_t·ε,        ε ~ N(0, I),

indexed by ComfyUI's sigma (σ):

    path "ve"   (EPS, V_PREDICTION; SD1.x, SD2.x, SDXL):  a = 1,     s = σ
    path "flow" (CONST; SD3.x, Flux, AuraFlow):            a = 1 − σ, s = σ

VP models are VE up to a rescaling (ᾱ = 1/(1+σ²)), so they need no path of their own.
`coeffs` is the one place that branches on the family; every kernel is written in (a, s).

Levels are a descending 1-D tensor σ_0 > σ_1 > … > σ_n ≥ 0 (n = steps): σ_0 = σ(t0) is where
stage 2 starts, σ_n is the clean end (ComfyUI's schedules end at 0). Like KSampler with
`denoise = t0`, the caller builds a full schedule of `full_steps(steps, t0)` steps from one of
ComfyUI's scheduler functions and keeps its tail of `steps + 1` levels (`keep_tail`).
"""

import torch
from torch import Tensor

PATHS = ("ve", "flow")


def check_path(path: str) -> str:
    """Return `path` if it names a known path, else raise a ValueError listing them."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}: use 've' (EPS / V-prediction models) or 'flow' (CONST)")
    return path


def coeffs(sigma: Tensor, path: str) -> tuple[Tensor, Tensor]:
    """(a, s) of x = a·x0 + s·ε at level `sigma` (any shape) on `path`."""
    check_path(path)
    if path == "flow":
        return 1 - sigma, sigma
    return torch.ones_like(sigma), sigma


def marginal_std(sigma: Tensor, path: str) -> Tensor:
    """sqrt(a² + s²): the std of x = a·x0 + s·ε at level `sigma` for data of unit variance, the latent's own
    scale there (1 + σ² is the variance on VE, (1 − σ)² + σ² on flow; a VP latent's is 1)."""
    a, s = coeffs(torch.as_tensor(sigma, dtype=torch.float64), path)
    return (a * a + s * s).sqrt()


def check_steps(steps: int, name: str = "steps") -> int:
    """Return `steps` if it is an integer ≥ 1, else raise a ValueError about `name`."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{name} must be a whole number ≥ 1, got {steps!r}")
    return steps


def check_t0(t0: float) -> float:
    """Return `t0` if it lies in (0, 1], else raise a ValueError."""
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"t0 must be in (0, 1] (a fraction of the noise range, 1 = pure noise), got {t0!r}")
    return float(t0)


def full_steps(steps: int, t0: float) -> int:
    """Length round(steps / t0) of the full schedule whose last `steps` steps start at t0."""
    return round(check_steps(steps) / check_t0(t0))


def keep_tail(sigmas: Tensor, steps: int) -> Tensor:
    """The last `steps + 1` levels of a full descending schedule (KSampler's `denoise` convention).

    Only the length is checked here: a scheduler's levels are checked where they are used (`check_sigmas`), so a
    caller can first say plainly what is wrong with a schedule it did not make (e.g. non-finite levels)."""
    check_steps(steps)
    if not isinstance(sigmas, Tensor) or sigmas.ndim != 1:
        raise ValueError("sigmas must be a 1-D tensor of noise levels")
    if sigmas.numel() < steps + 1:
        raise ValueError(
            f"the schedule has {sigmas.numel() - 1} steps, fewer than the {steps} asked for: "
            f"build it with full_steps(steps, t0) steps"
        )
    return sigmas[-(steps + 1) :]


def check_sigmas(sigmas: Tensor, path: str | None = None) -> Tensor:
    """Return `sigmas` if it is a valid level grid (1-D, ≥ 2 levels, strictly descending, ≥ 0), else raise."""
    if not isinstance(sigmas, Tensor) or sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas must be a 1-D tensor of at least 2 noise levels (one step)")
    if not torch.isfinite(sigmas).all() or (sigmas < 0).any():
        raise ValueError(f"sigmas must be finite and ≥ 0, got {sigmas.tolist()}")
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError(
            f"sigmas must be strictly descending (from t0 down to the clean end), got {sigmas.tolist()}: "
            "drop repeated levels, or flip an ascending schedule"
        )
    if path is not None and check_path(path) == "flow" and sigmas[0] > 1:
        raise ValueError(f"flow (CONST) levels lie in [0, 1], got σ_0 = {float(sigmas[0])}: use path 've'?")
    return sigmas
