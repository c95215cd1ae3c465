"""Random streams: every source of randomness gets its own seed, derived from the node's seed.

A node has one `seed` widget but may draw several kinds of noise. Drawn from one generator seeded
with the same number, two of them would be the same numbers (the paste noise of SDE-Drag used to
repeat the forward chain's first draw; a DDPM resample seeded like its stage 1 replayed stage 1's
noise). So each stream has a name, and its generator is seeded with

    stream_seed(seed, name, index) = first 8 bytes (little-endian) of
                                     SHA-256("sde-edit/<name>/<index>/<seed>"), top bit cleared

`index` numbers repeated draws of one stream (SDE-Drag's sub-steps). The generators live on the
CPU, as ComfyUI's own noise does, so the same seed gives the same numbers on any device.

The streams:

    forward    stage 1's noise-adding chain (Noise-Adding Inversion, Cycle-SDE Record, SDE-Drag's
               forward trajectory of sub-step k)
    paste      the fresh noise Eq. 12 puts into the source square (Drag Copy-Paste, SDE-Drag)
    fresh      SDE-Drag's fresh noise inside the edited squares (its `noise = fresh` option)
    ddpm       stage 2's fresh noise (Resample / the SAMPLER with method ddpm)
    diffedit   the noise DiffEdit adds to the copies of the image
    sync       sync-SDE's source-path Brownian noise
    lora_init  the starting weights of Train Image LoRA's up matrices
    lora_noise Train Image LoRA's levels and noise, step by step
"""

from __future__ import annotations

import hashlib

import torch

STREAMS = ("forward", "paste", "fresh", "ddpm", "diffedit", "sync", "lora_init", "lora_noise")


def stream_seed(seed: int, stream: str, index: int = 0) -> int:
    """The seed of random stream `stream` (one of STREAMS), draw `index`, of a node seeded with `seed`."""
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}: one of {', '.join(STREAMS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number ≥ 0, got {seed!r}")
    digest = hashlib.sha256(f"sde-edit/{stream}/{int(index)}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, stream: str, index: int = 0) -> torch.Generator:
    """A CPU torch.Generator for stream `stream`, draw `index`, of `seed` (same numbers on any device)."""
    return torch.Generator(device="cpu").manual_seed(stream_seed(seed, stream, index))
