"""Which noise path a model follows, read from what its `model_sampling` does, not from its class.

The pack's math needs two things of a model: the path a clean latent x0 takes as noise n is added,
and a denoiser that returns an estimate of x0. ComfyUI's model_sampling object says both:

- `noise_scaling(σ, n, x0)` is the path: x0 + σ·n ("ve": EPS, V-prediction and EDM models, VP in VE
  form) or (1 − σ)·x0 + σ·n ("flow": rectified flow, ComfyUI's CONST); `inverse_noise_scaling` must
  undo it as that path does (identity, or a division by 1 − σ);
- `calculate_input` / `calculate_denoised` turn the network's output into x0 under one of the
  parametrisations ComfyUI's denoiser uses (ε or velocity, v, EDM, x0 itself).

Newer ComfyUI releases add classes (e.g. image-to-image flows, a `noise_scale` on CONST) whose names
say little of what they do; a subclass of CONST is not always a rectified flow. So each model is
probed on fixed small tensors, and one that matches no known path and parametrisation is refused
with its class names, instead of being edited on a guessed path.
"""

from __future__ import annotations

import torch

_SIGMAS = (0.2, 0.45, 0.8)  # inside (0, 1), where both paths are defined
_TOL = 1e-4  # float32; the known kinds differ from one another by O(1) on these tensors

_PATHS = {
    "ve": (lambda s, x0, n: x0 + s * n, lambda s, x: x),
    "flow": (lambda s, x0, n: (1 - s) * x0 + s * n, lambda s, x: x / (1 - s)),
}


def _inputs(s, d):
    return {"scaled by 1/√(σ² + σ_data²)": lambda x: x / (s**2 + d**2).sqrt(), "unscaled": lambda x: x}


def _denoised(s, d):
    k = s**2 + d**2
    return {
        "ε or velocity": lambda out, x: x - out * s,
        "v": lambda out, x: x * d**2 / k - out * s * d / k.sqrt(),
        "EDM": lambda out, x: x * d**2 / k + out * s * d / k.sqrt(),
        "x0": lambda out, x: out,
    }


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=_TOL, atol=_TOL))


def _match(table: dict, got: torch.Tensor, *args) -> str | None:
    return next((name for name, f in table.items() if _close(got, f(*args))), None)


def class_names(ms) -> str:
    """The model_sampling's class and ComfyUI's classes behind it: e.g. ModelSamplingAdvanced
    (ModelSamplingDiscrete/EPS), as core nodes build them."""
    own = [c.__name__ for c in type(ms).__mro__ if c.__module__ == "comfy.model_sampling"]
    name = type(ms).__name__
    if not own or own[0] == name:
        return "/".join(own) or name
    return f"{name} ({'/'.join(own)})"


def noise_path(ms) -> str:
    """"ve" or "flow" for a model_sampling that behaves as one of them; a ValueError naming it otherwise."""
    # where its tables live; float32 (MPS has no float64)
    device = next(iter(getattr(ms, "buffers", tuple)()), torch.empty(0)).device
    gen = torch.Generator().manual_seed(0)
    x0, n, out = (torch.randn(len(_SIGMAS), 2, 2, 2, generator=gen).to(device) for _ in range(3))
    s = torch.tensor(_SIGMAS, device=device)
    sb = s.view(-1, 1, 1, 1)
    d = torch.tensor(float(getattr(ms, "sigma_data", 1.0)), device=device)
    try:
        with torch.no_grad():
            noised = ms.noise_scaling(s, n.clone(), x0.clone(), max_denoise=False)
            path = next((p for p, (f, inv) in _PATHS.items()
                         if _close(noised, f(sb, x0, n)) and _close(ms.inverse_noise_scaling(s, x0.clone()),
                                                                    inv(sb, x0))), None)
            scaled = _match(_inputs(sb, d), ms.calculate_input(s, x0.clone()), x0)
            denoised = _match(_denoised(sb, d), ms.calculate_denoised(s, out.clone(), x0.clone()), out, x0)
    except Exception as e:  # a class whose methods take other arguments is no known kind either
        raise _refused(ms, f"probing it failed ({type(e).__name__}: {e})") from None
    if path is None:
        raise _refused(ms, "its noise_scaling follows neither x0 + σ·noise nor (1 − σ)·x0 + σ·noise")
    if scaled is None or denoised is None:
        raise _refused(ms, "its network output is not ε, velocity, v, EDM or x0 as ComfyUI's known types read it")
    return path


def _refused(ms, why: str) -> ValueError:
    return ValueError(
        f"model: its sampling type {class_names(ms)} is not one SDE Edit supports: {why}. Supported are models "
        "on x = x0 + σ·noise (EPS, V-prediction, EDM) and rectified flows on x = (1 − σ)·x0 + σ·noise (CONST); "
        "an unknown type is refused rather than edited on a guessed path")
