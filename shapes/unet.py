"""The shapes world's small ε-prediction UNet (docs/design.md §8), plain torch so training and ComfyUI share it.

Channels (32, 64, 128), two residual blocks per level (GroupNorm + SiLU), a sinusoidal time
embedding; the class (one of `n_classes`, plus a null class for classifier-free guidance) is
given as a one-hot (or any mixture) row and added to the time embedding through a linear map,
so ComfyUI can carry it as a [B, 1, n_classes + 1] cross-attention tensor. An unconditional
model has `n_classes = 0`. The input is x_t in [−1, 1]-scaled pixels and the discrete timestep
t ∈ [0, 1000) of SD's scaled_linear schedule.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """[B, dim] sinusoidal embedding of timesteps t (any float), as in DDPM / SD."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, ops=nn):
        super().__init__()
        self.norm1 = ops.GroupNorm(8, c_in)
        self.conv1 = ops.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = ops.Linear(emb_dim, c_out)
        self.norm2 = ops.GroupNorm(8, c_out)
        self.conv2 = ops.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = ops.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class ShapesUNet(nn.Module):
    """ε̂(x_t, t, class): a UNet over 3-channel images whose side is a multiple of 4.

    `ops` is where the layers come from (Linear, Conv2d, GroupNorm): torch.nn for training, or a host's
    drop-in replacements (ComfyUI's `comfy.ops`, whose layers take per-forward weight patches such as a LoRA).
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), blocks: int = 2, n_classes: int = 0,
                 in_channels: int = 3, ops=nn):
        super().__init__()
        self.channels, self.blocks, self.n_classes = tuple(channels), blocks, n_classes
        c0, emb_dim = channels[0], 4 * channels[0]
        self.time_dim = c0
        self.time_mlp = nn.Sequential(ops.Linear(c0, emb_dim), nn.SiLU(), ops.Linear(emb_dim, emb_dim))
        # One-hot row (n_classes + null) → embedding; a Linear without bias is an embedding table.
        self.class_emb = ops.Linear(n_classes + 1, emb_dim, bias=False) if n_classes else None
        self.conv_in = ops.Conv2d(in_channels, c0, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, c = [c0], c0
        for i, ch in enumerate(channels):
            for _ in range(blocks):
                self.down.append(ResBlock(c, ch, emb_dim, ops))
                c = ch
                skips.append(c)
            if i < len(channels) - 1:
                self.downsample.append(ops.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList([ResBlock(c, c, emb_dim, ops), ResBlock(c, c, emb_dim, ops)])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, ch in reversed(list(enumerate(channels))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), ch, emb_dim, ops))
                c = ch
            if i > 0:
                self.upsample.append(ops.Conv2d(c, c, 3, padding=1))
        self.norm_out = ops.GroupNorm(8, c)
        self.conv_out = ops.Conv2d(c, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def one_hot(self, labels: Tensor) -> Tensor:
        """[B, n_classes + 1] rows of class indices (NULL = n_classes)."""
        return F.one_hot(labels.long(), self.n_classes + 1).float()

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        """ε̂ for x [B, 3, H, W], t [B], y [B, n_classes + 1] class rows (None: the null class)."""
        emb = self.time_mlp(timestep_embedding(t, self.time_dim).to(x.dtype))
        if self.class_emb is not None:
            if y is None:
                y = self.one_hot(torch.full((x.shape[0],), self.n_classes, device=x.device))
            emb = emb + self.class_emb(y.to(x.dtype))
        h = self.conv_in(x)
        hs = [h]
        k = 0
        for i in range(len(self.channels)):
            for _ in range(self.blocks):
                h = self.down[k](h, emb)
                k += 1
                hs.append(h)
            if i < len(self.channels) - 1:
                h = self.downsample[i](h)
                hs.append(h)
        for block in self.mid:
            h = block(h, emb)
        k = 0
        for j, i in enumerate(reversed(range(len(self.channels)))):
            for _ in range(self.blocks + 1):
                h = self.up[k](torch.cat([h, hs.pop()], dim=1), emb)
                k += 1
            if i > 0:
                h = self.upsample[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def scaled_linear_alphas_cumprod(steps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012) -> Tensor:
    """ᾱ_t of SD's scaled_linear schedule (ComfyUI's ModelSamplingDiscrete default)."""
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).float()


def config_of(model: ShapesUNet) -> dict:
    """The constructor arguments, stored in the weights' metadata."""
    return {"channels": list(model.channels), "blocks": model.blocks, "n_classes": model.n_classes}
