"""DiffEdit's mask: where two noise predictions disagree (docs/design.md §5; Couairon et al., ICLR 2023).

Notation (paper ↔ code):

    x0          the input latent in model space, [B, C, *spatial]
    σ, a, s     the level the copies are noised to, and its path coefficients, x = a·x0 + s·ε
                (`schedule.coeffs`). The node takes σ at the noise strength (0.5) of the model's time
                range from ComfyUI's percent_to_sigma(1 − strength), the σ_0 of a stage-1 grid with t0
                = strength up to the scheduler's rounding (and a flow model's shift included)
    n           the number of noised copies (`n`, 10 in the reference pipeline)
    z_j         independent standard normal draws, j = 1 … n
    x_j         = a·x0 + s·z_j, the noised copies
    ε̂_c(x_j)    the noise implied by the model's x̂0 under conditioning c (`kernels.eps_hat`)
    w           the guidance scale (`scale`, 7.5)
    k           the clamp factor ("remove extreme values", `clamp`, 3)

Per image b (statistics never mix the images of a batch):

    D_b     = |w| · mean over j and channels of |ε̂_tgt(x_j) − ε̂_ref(x_j)|      the map, [*spatial]
    D_b     ← G_ρ * D_b                   optional: a Gaussian blur of std ρ latent px (`smoothing`)
    soft_b  = min(D_b, k·mean(D_b)) / (k·mean(D_b))                          ∈ [0, 1]; 0 where D_b ≡ 0
    soft_b  ← fill(soft_b)                optional: every dip not connected to the border raised to the
                                          level of its rim (grey-level hole filling, `fill_holes`)
    mask_b  = soft_b > threshold                                              0 / 1

The two optional steps are not the reference pipeline's (whose authors leave "consider smoothing mask
guidance map" as a TODO): the map often lights an object's rim more than its inside (where both prompts
agree on the colour's texture), and a blur and a fill turn a rim into a region. Off by default.

The threshold is strict, as in the reference pipeline (`where(soft <= threshold, 0, 1)`) and in
ComfyUI's ThresholdMask, so identical conditionings give an empty mask at every threshold in [0, 1].

Guidance: classifier-free guidance with one unconditional branch u shared by both prompts gives
ε̂_cfg(c) = ε̂_u + w·(ε̂_c − ε̂_u), so ε̂_cfg(tgt) − ε̂_cfg(ref) = w·(ε̂_tgt − ε̂_ref): u cancels exactly,
and only the two conditional branches are evaluated (the reference pipeline's four batches give the
same map). Because the map is divided by its own mean, every w ≠ 0 gives the same soft map and mask,
and w = 0 an empty one.

The copies are laid out copy-major, [n·B, …] = [copy 1: images 1 … B, copy 2: …], so a per-image
tensor repeated to the batch (what ComfyUI does with a conditioning's extra inputs) lines up with
its image. `batch_size` copies go into each call of the pair denoiser (all n when None): the calls
are ⌈n / batch_size⌉, with batch_size·B rows each (fewer in the last). The noise is drawn once, up
front, so the result does not depend on `batch_size`.
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .kernels import eps_hat
from .samplers import Callback
from .schedule import check_steps, coeffs

PairDenoiser = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
"""`denoise_pair(x [N, …], sigma [N]) -> (x̂0 under the target, x̂0 under the reference)`, no guidance."""


def check_options(n: int, clamp: float, threshold: float, smoothing: float = 0.0) -> None:
    """ValueErrors for settings a user can get wrong, each saying what to change."""
    check_steps(n, "the number of noises")
    if not (isinstance(smoothing, int | float) and 0 <= smoothing <= MAX_SMOOTHING):
        raise ValueError(f"smoothing must be a number of latent pixels in [0, {MAX_SMOOTHING:g}] (0 = none, the "
                         f"reference pipeline), got {smoothing!r}")
    if not (isinstance(clamp, int | float) and math.isfinite(clamp) and clamp > 0):
        raise ValueError(f"the clamp factor must be a number > 0 (3 in the reference pipeline), got {clamp!r}")
    if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"the threshold must lie in [0, 1] (0.5 in the reference pipeline), got {threshold!r}")


def copy_maps(eps_tgt: Tensor, eps_ref: Tensor) -> Tensor:
    """mean over the channels of |ε̂_tgt − ε̂_ref|, one map per row: [N, C, *sp] → [N, *sp]."""
    if eps_tgt.shape != eps_ref.shape or eps_tgt.ndim < 3:
        raise ValueError(f"expected two predictions [N, C, …] of one shape, got {list(eps_tgt.shape)} and "
                         f"{list(eps_ref.shape)}")
    return (eps_tgt - eps_ref).abs().mean(dim=1)


def difference_map(maps: Tensor, n: int, scale: float = 1.0) -> Tensor:
    """D = |w|·mean over the n copies of the per-copy maps: copy-major [n·B, *sp] → [B, *sp]."""
    if maps.shape[0] % n:
        raise ValueError(f"expected n·B = {n}·B per-copy maps, got {maps.shape[0]}")
    return abs(scale) * maps.reshape(n, -1, *maps.shape[1:]).mean(dim=0)


def soft_map(d: Tensor, clamp: float = 3.0) -> Tensor:
    """min(D, k·mean D) / (k·mean D) per image (mean over its own pixels), in [0, 1]; 0 for an all-zero D."""
    limit = clamp * d.flatten(1).mean(dim=1).reshape(-1, *([1] * (d.ndim - 1)))
    positive = limit > 0
    return torch.where(positive, d.minimum(limit) / torch.where(positive, limit, 1), 0)


MAX_SMOOTHING = 16.0  # latent px: a blur wider than this washes out any object a latent can hold


def smooth(d: Tensor, radius: float) -> Tensor:
    """D [B, H, W] blurred by a Gaussian of std `radius` latent px (separable, truncated at 3 std, the border
    replicated so edges are not darkened); unchanged at radius 0."""
    if radius == 0:
        return d
    if d.ndim != 3:
        raise ValueError(f"smoothing works on 2-D maps [B, H, W], got shape {list(d.shape)}")
    half = math.ceil(3 * radius)
    t = torch.arange(-half, half + 1, dtype=d.dtype, device=d.device)
    g = torch.exp(-0.5 * (t / radius) ** 2)
    g = g / g.sum()
    x = d[:, None]
    x = F.conv2d(F.pad(x, (half, half, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, half, half), mode="replicate"), g.view(1, 1, -1, 1))
    return x[:, 0]


def fill_holes(soft: Tensor) -> Tensor:
    """Grey-level hole filling of maps [B, H, W]: the morphological reconstruction by erosion from the border,
    so each dip that does not reach the border (4-neighbourhood) is raised to the lowest level of its rim; on a
    0/1 map, every region of 0s enclosed by 1s becomes 1. Never lowers a value."""
    if soft.ndim != 3:
        raise ValueError(f"hole filling works on 2-D maps [B, H, W], got shape {list(soft.shape)}")
    top = soft.flatten(1).amax(dim=1).view(-1, 1, 1)
    marker = top.expand_as(soft).clone()
    marker[:, 0, :], marker[:, -1, :], marker[:, :, 0], marker[:, :, -1] = (
        soft[:, 0, :], soft[:, -1, :], soft[:, :, 0], soft[:, :, -1])
    for _ in range(soft.shape[-1] * soft.shape[-2]):  # each pass floods one pixel further; stops when stable
        p = F.pad(marker[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
        cross = (p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:])
        eroded = torch.stack(cross).amin(0)
        grown = torch.maximum(soft, eroded)
        if torch.equal(grown, marker):
            break
        marker = grown
    return marker


def binary_mask(soft: Tensor, threshold: float = 0.5) -> Tensor:
    """1 where soft > threshold (strict, as the reference pipeline), else 0; in soft's dtype."""
    return (soft > threshold).to(soft.dtype)


def diffedit_mask(
    denoise_pair: PairDenoiser,
    x0: Tensor,
    sigma: float | Tensor,
    path: str,
    n: int,
    generator: torch.Generator,
    *,
    scale: float = 1.0,
    clamp: float = 3.0,
    threshold: float = 0.5,
    smoothing: float = 0.0,
    fill: bool = False,
    batch_size: int | None = None,
    callback: Callback | None = None,
) -> tuple[Tensor, Tensor]:
    """DiffEdit's mask of x0 [B, C, *sp] at level σ: (binary mask, soft map), both [B, *sp] in float32.

    `smoothing` blurs the map before it is normalised and `fill` fills its holes before the threshold (both off:
    the reference pipeline). `callback(i, x, x0_hat_tgt)` runs after each of the ⌈n / batch_size⌉ calls.
    """
    check_options(n, clamp, threshold, smoothing)
    if batch_size is not None:
        check_steps(batch_size, "batch_size (noised copies per model call)")
    if x0.ndim < 3:
        raise ValueError(f"expected latents [B, C, …], got shape {list(x0.shape)}")
    dt = torch.promote_types(x0.dtype, torch.float32)
    sig = torch.as_tensor(sigma, dtype=torch.float64).reshape(())
    if not bool(torch.isfinite(sig)) or float(sig) <= 0:
        raise ValueError(f"the mask's noise level must be a finite σ > 0, got {float(sig)}")
    a, s = (v.to(x0.device, dt) for v in coeffs(sig, path))
    b = x0.shape[0]
    z = torch.randn((n, *x0.shape), generator=generator, dtype=torch.float32, device=generator.device)
    x = (a * x0.detach().to(dt) + s * z.to(x0.device, dt)).flatten(0, 1)  # copy-major [n·B, C, …]
    size = n if batch_size is None else min(batch_size, n)
    parts = []
    for i, start in enumerate(range(0, n, size)):
        x_j = x[start * b : min(start + size, n) * b]
        x0_tgt, x0_ref = denoise_pair(x_j, sig.to(x0.device, dt).expand(x_j.shape[0]).clone())
        for out in (x0_tgt, x0_ref):
            assert out.shape == x_j.shape, f"the denoiser returned {tuple(out.shape)} for input {tuple(x_j.shape)}"
        parts.append(copy_maps(eps_hat(x_j, x0_tgt.to(dt), a, s), eps_hat(x_j, x0_ref.to(dt), a, s)))
        if callback is not None:
            callback(i, x_j, x0_tgt)
    d = smooth(difference_map(torch.cat(parts), n, scale), smoothing)
    soft = soft_map(d, clamp).to(torch.float32)
    if fill:
        soft = fill_holes(soft)
    return binary_mask(soft, threshold), soft
