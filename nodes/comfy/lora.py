"""A LoRA whose strength follows the noise level of each model call (SDE-Drag's falling LoRA scale).

The authors of SDE-Drag fine-tune a LoRA on the input image and, while dragging, weaken it towards t0:
strength s(t) = strength · (1 − (1 − lora_min)·(1 − cos(π·t/t0))/2) (`sampling.guidance.falling_lora_scale`),
the same for the recording rows and the sampling rows of a step. Here t is the model's own timestep of
the call's σ and t0 that of the grid's top level σ_0, so s = lora_min·strength exactly at σ_0 and → strength
as σ → 0, on every grid and model family.

How, with ComfyUI's own mechanisms and nothing patched:

- the LoRA's weights become ComfyUI patches (`comfy.lora.load_lora` over the model's key map: LoRA files
  in any format ComfyUI reads, and `LORA_MODEL` dicts of Train LoRA);
- each patched weight gets a *weight wrapper* (`ModelPatcher.add_weight_wrapper`, as Train LoRA's own
  output model uses): the layer's weight is computed at forward time as W + s·ΔW (`comfy.lora.
  calculate_weight` at strength s), so no weight is re-merged when s changes and s is exact per call;
- an APPLY_MODEL wrapper reads σ of each call and sets s before the forward pass. A call must hold one
  level (a LoRA strength is per call, not per row): the nodes make their calls one level each when a
  LoRA is given.

ComfyUI's hook keyframes do not fit: they move forward once per sampling run and re-patch the weights
when the strength changes, while SDE-Drag goes down the grid once per sub-step inside one run.
"""

from __future__ import annotations

import math

import comfy.lora
import comfy.patcher_extension
import torch

from ...sampling.guidance import falling_lora_scale

KEY = "sde_edit_lora_schedule"
APPLY_MODEL = comfy.patcher_extension.WrappersMP.APPLY_MODEL


def _moved(v, device):
    """A patch value with its tensors on `device` (weight adapters, ("diff", (t,)) tuples, nested lists)."""
    if torch.is_tensor(v):
        return v.to(device)
    if isinstance(v, (tuple, list)):
        return type(v)(_moved(u, device) for u in v)
    if hasattr(v, "weights") and hasattr(v, "loaded_keys"):
        return type(v)(v.loaded_keys, _moved(v.weights, device))
    return v


def _nbytes(v) -> int:
    if torch.is_tensor(v):
        return v.nbytes
    if isinstance(v, (tuple, list)):
        return sum(_nbytes(u) for u in v)
    return _nbytes(v.weights) if hasattr(v, "weights") else 0


class Strength:
    """The strength of the current call: set by the APPLY_MODEL wrapper, read by every weight wrapper."""

    def __init__(self):
        self.value = 1.0


class ScaledPatch:
    """A weight wrapper: the weight at forward time, plus the LoRA's patch at the current strength."""

    def __init__(self, key: str, patch, strength: Strength):
        self.key, self.patch, self.strength = key, patch, strength

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        s = self.strength.value
        if s == 0.0:
            return weight
        return comfy.lora.calculate_weight([(s, self.patch, 1.0, None, None)], weight, self.key)

    def move_to(self, device=None) -> int:
        """ComfyUI moves weight functions with the model: keep the patch where the weights are."""
        if device is not None:
            self.patch = _moved(self.patch, device)
        return _nbytes(self.patch)


def lora_patches(model, lora) -> dict:
    """{model weight key: ComfyUI patch} of `lora` (a LORA_MODEL state dict, checked by the node's check_links);
    a ValueError if none fits."""
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    patches = comfy.lora.load_lora(lora, key_map, log_missing=False)
    if not patches:
        raise ValueError(f"lora: none of its {len(lora)} tensors fits this model's weights: was it trained on "
                         "another model? (only the diffusion model's weights are patched)")
    return patches


class Schedule:
    """s(σ) = strength · falling_lora_scale(t(σ) / t(σ_0), lora_min), with t the model's timestep."""

    def __init__(self, model, sigma_top: float, lora_min: float, strength: float):
        for name, v in (("lora_min", lora_min), ("lora_strength", strength)):
            if not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        self.sampling = model.get_model_object("model_sampling")
        self.t_top = float(self.sampling.timestep(torch.tensor([float(sigma_top)])).reshape(-1)[0])
        self.lora_min, self.strength = float(lora_min), float(strength)

    def __call__(self, sigma: float) -> float:
        t = float(self.sampling.timestep(torch.tensor([float(sigma)])).reshape(-1)[0])
        u = min(max(t / self.t_top, 0.0), 1.0) if self.t_top > 0 else 0.0
        return self.strength * falling_lora_scale(u, self.lora_min)


def with_falling_lora(model, lora, lora_min: float, strength: float, sigma_top: float):
    """A clone of `model` carrying `lora` at the falling strength; `model` itself is left unchanged."""
    patches = lora_patches(model, lora)
    schedule = Schedule(model, sigma_top, lora_min, strength)
    current = Strength()
    out = model.clone()
    for key, patch in patches.items():
        out.add_weight_wrapper(key, ScaledPatch(key, patch, current))

    def apply_model(executor, x, t, *args, **kwargs):
        sigma = t.reshape(-1)
        if not bool((sigma == sigma[0]).all()):
            raise RuntimeError("SDE Edit LoRA schedule: one model call mixes noise levels, but a LoRA strength is per "
                               "call; run one level per call")
        current.value = schedule(float(sigma[0]))
        return executor(x, t, *args, **kwargs)

    out.add_wrapper_with_key(APPLY_MODEL, KEY, apply_model)
    return out


# --- Training a LoRA on the input image (the authors' recipe) ------------------------------------------

TRAIN_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _normal(obj):
    """`obj` with every tensor cloned outside inference mode (ComfyUI runs nodes in inference mode, and
    autograd cannot save inference tensors for the backward pass)."""
    if torch.is_tensor(obj):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _normal(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_normal(v) for v in obj)
    return obj


def _identity(w):
    return w


def train_image_lora(model, positive, samples: torch.Tensor, *, steps: int, rank: int, learning_rate: float,
                     seed: int, dtype: torch.dtype, progress=None) -> tuple[dict, list[float]]:
    """A LoRA of `rank` on every ≥ 2-D weight of the diffusion model, fitted to `samples` (LATENT space)
    under `positive` for `steps` AdamW steps; ({name: tensor} in Train LoRA's format, the loss per step).

    Step k: u ~ U[0, 1), σ = the model's level at timestep fraction u, ε ~ N(0, I), x = a·x0 + s·ε, loss =
    mean (ε̂ − ε)² with ε̂ = (x − a·x̂0)/s (the authors' ε-prediction MSE, on any model family). Streams:
    "lora_init" (the up matrices; down starts at 0, so the LoRA starts as no change), "lora_noise" (u, ε).
    """
    import comfy.weight_adapter.lora as wl

    from ...sampling import streams
    from ...sampling.kernels import eps_hat
    from ...sampling.schedule import coeffs
    from . import guider
    from . import model as cm

    path = cm.model_path(model)
    init = streams.generator(seed, "lora_init")
    mp = model.clone()
    mp.set_model_compute_dtype(dtype)
    adapters: dict[str, torch.nn.Module] = {}
    losses: list[float] = []
    with torch.inference_mode(False), torch.enable_grad():
        for name, m in mp.model.named_modules():
            if not (hasattr(m, "weight_function") and name.startswith("diffusion_model.")):
                continue
            w = getattr(m, "weight", None)
            if w is not None and w.ndim >= 2:
                out_dim, in_dim = w.shape[0], w.shape[1:].numel()
                bound = 1.0 / math.sqrt(rank)  # kaiming_uniform(a=√5) of [out, rank], as Train LoRA starts it
                up = (torch.rand(out_dim, rank, generator=init) * 2 - 1) * bound
                adapter = wl.LoraDiff((up, torch.zeros(rank, in_dim), float(rank), None, None, None)).to(w.device)
                adapters[name] = adapter
                mp.add_weight_wrapper(f"{name}.weight", adapter)
            elif w is not None:
                mp.add_weight_wrapper(f"{name}.weight", _identity)  # a copy: the stored weight may be an
            if getattr(m, "bias", None) is not None:                # inference tensor
                mp.add_weight_wrapper(f"{name}.bias", _identity)
        if not adapters:
            raise ValueError("model: no layer of this model takes a LoRA (none is one of ComfyUI's patchable layers)")
        params = [p for a in adapters.values() for p in (a.lora_up.weight, a.lora_down.weight)]
        optimizer = torch.optim.AdamW(params, lr=learning_rate)
        sampling = model.get_model_object("model_sampling")

        def body(ctx: guider.Context):
            noise_gen = streams.generator(seed, "lora_noise")
            x0 = ctx.latent_image.detach().clone()
            for k in range(steps):
                u = float(torch.rand((), generator=noise_gen))
                sigma = torch.full((x0.shape[0],), float(sampling.percent_to_sigma(1.0 - u)), device=x0.device)
                eps = torch.randn(x0.shape, generator=noise_gen).to(x0)
                a, s = (v.view(-1, *([1] * (x0.ndim - 1))) for v in coeffs(sigma, path))
                x = a * x0 + s * eps
                (x0_hat,) = ctx.evaluate(x, sigma, ("positive",))
                loss = torch.nn.functional.mse_loss(eps_hat(x, x0_hat.float(), a, s), eps)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                if progress is not None:
                    progress(k, x, x0_hat.detach())
            return None

        grid = torch.tensor([float(sampling.sigma_max), 0.0])
        guider.run_for_value(mp, {"positive": _normal(positive)}, 1.0, _normal(samples), grid, seed, body)
    lora = {}
    for name, a in adapters.items():
        lora[f"{name}.lora_up.weight"] = a.lora_up.weight.detach().clone()
        lora[f"{name}.lora_down.weight"] = a.lora_down.weight.detach().clone()
        lora[f"{name}.alpha"] = torch.tensor(float(rank))
    return lora, losses
