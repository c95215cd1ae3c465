"""The recorded trajectory: stage 1's output and stage 2's input, an explicit immutable value.

Indexing (n = steps), the same everywhere in the pack:

    sigmas[i]      σ_i, descending: σ_0 = σ(t0) > σ_1 > … > σ_n ≥ 0 (σ_n = 0 on ComfyUI's grids)
    latents[i]     x at level σ_i; latents[n] is the clean input x0, taken as the state at σ_n
    residuals[i]   the step σ_i → σ_{i+1} (i = 0 … n−1): r_i = x_{i+1} − μ(x_i), μ the mean of the
                   DDPM step (kernels.ddpm_mean) with the model at (x_i, σ_i, scale_i).
                   r_i = τ_i·w'_i of Eq. 8 where τ_i > 0, and still defined at σ_{i+1} = 0.

Kinds: "noise_adding" (Eq. 7 forward chain, or independent marginals; no model calls),
"ddim_inversion" (Alg. 4), "cycle_sde" (a noise-adding trajectory plus its residuals, Alg. 5).
Latents and residuals keep the dtype they were computed in (float64 records stay float64).
`meta` is free JSON-able data for callers (model identity, scheduler, seed …).
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from .schedule import check_path, check_sigmas

KINDS = ("noise_adding", "ddim_inversion", "cycle_sde")
METHODS = ("ddim", "ddpm", "cycle_sde")
FORMAT = "sde-edit.trajectory"
VERSION = 1


def check_method(method: str) -> str:
    """Return `method` if it names a stage-2 sampler, else raise a ValueError listing them."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    return method


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Levels, the latent at each level, and (Cycle-SDE) the residual of each step; see the module doc."""

    sigmas: Tensor
    path: str
    latents: tuple[Tensor, ...]
    kind: str
    residuals: tuple[Tensor, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_path(self.path)
        if self.kind not in KINDS:
            raise ValueError(f"unknown trajectory kind {self.kind!r}: one of {', '.join(KINDS)}")
        sigmas = check_sigmas(self.sigmas.detach().to("cpu", torch.float64), self.path)
        object.__setattr__(self, "sigmas", sigmas)
        object.__setattr__(self, "latents", tuple(self.latents))
        if self.residuals is not None:
            object.__setattr__(self, "residuals", tuple(self.residuals))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        n = self.steps
        if len(self.latents) != n + 1:
            raise ValueError(f"a trajectory of {n} steps has {n + 1} latents, got {len(self.latents)}")
        if (self.residuals is not None) != (self.kind == "cycle_sde"):
            raise ValueError("residuals belong to (and only to) a trajectory of kind 'cycle_sde'")
        if self.residuals is not None and len(self.residuals) != n:
            raise ValueError(f"a trajectory of {n} steps has {n} residuals, got {len(self.residuals)}")
        for t in self.latents + (self.residuals or ()):
            if t.shape != self.shape:
                raise ValueError(f"all latents and residuals must share one shape, got {tuple(t.shape)}")

    @property
    def steps(self) -> int:
        """n, the number of steps between σ_0 and σ_n."""
        return self.sigmas.numel() - 1

    @property
    def shape(self) -> torch.Size:
        """The latent shape [B, C, h, w] (any [B, …]) the trajectory was recorded for."""
        return self.latents[-1].shape

    @property
    def x0(self) -> Tensor:
        """The clean input, latents[n]."""
        return self.latents[-1]

    def check(
        self,
        like: Tensor | None = None,
        sigmas: Tensor | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> "Trajectory":
        """Return self if it serves stage 2 on `like` at `sigmas`, `path`, `method`, else raise ValueError."""
        if like is not None and like.shape != self.shape:
            raise ValueError(
                f"this trajectory was recorded for latents of shape {list(self.shape)} (batch, channels, "
                f"size), the input is {list(like.shape)}: record it from this latent, or pass the latent it "
                "was recorded from"
            )
        if path is not None and check_path(path) != self.path:
            raise ValueError(
                f"this trajectory was recorded on the {self.path!r} path and the model is on {path!r}: "
                "record it with this model"
            )
        if sigmas is not None:
            other = sigmas.detach().to("cpu", torch.float64)
            if other.shape != self.sigmas.shape or not torch.allclose(other, self.sigmas, 1e-5, 1e-8):
                raise ValueError(
                    f"this trajectory was recorded at other noise levels ({self.steps} steps, "
                    f"σ {float(self.sigmas[0]):.4g} → {float(self.sigmas[-1]):.4g}) than asked for "
                    f"({other.numel() - 1} steps, σ {float(other[0]):.4g} → {float(other[-1]):.4g}): "
                    "record it with the same steps, t0 and scheduler"
                )
        if method is not None and check_method(method) == "cycle_sde" and self.residuals is None:
            raise ValueError(
                f"Cycle-SDE replays recorded residuals and this is a {self.kind!r} trajectory without them: "
                "record it with the Cycle-SDE node at these settings"
            )
        return self

    def to_tensors(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """A flat dict of contiguous tensors plus a JSON-able header, e.g. for safetensors (no pickle)."""
        tensors = {"sigmas": self.sigmas.clone(), "latents": torch.stack(self.latents)}
        if self.residuals is not None:
            tensors["residuals"] = torch.stack(self.residuals)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "path": self.path,
            "kind": self.kind,
            "meta": dict(self.meta),
        }
        try:
            json.dumps(header)
        except TypeError as e:
            raise ValueError(f"trajectory meta must be JSON-able (str, numbers, lists, dicts): {e}") from None
        return tensors, header

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Tensor], header: Mapping[str, Any]) -> "Trajectory":
        """Inverse of `to_tensors`."""
        if header.get("format") != FORMAT:
            raise ValueError(f"not an sde-edit trajectory (its format is {header.get('format')!r}, not {FORMAT!r}): "
                             "record it again")
        version = header.get("version")
        if isinstance(version, int) and version > VERSION:
            raise ValueError(f"written by a newer sde-edit (trajectory version {version}; this one reads version "
                             f"{VERSION}): update the sde-edit node pack, or record it again")
        if version != VERSION:
            raise ValueError(f"not an sde-edit trajectory of version {VERSION} (version {version!r}): record it again")
        residuals = tensors.get("residuals")
        return cls(
            sigmas=tensors["sigmas"],
            path=header["path"],
            latents=tuple(tensors["latents"].unbind(0)),
            kind=header["kind"],
            residuals=None if residuals is None else tuple(residuals.unbind(0)),
            meta=header.get("meta", {}),
        )


def digest(tensors: Mapping[str, Tensor], header: str) -> str:
    """SHA-256 of a serialised trajectory: the header text, then each tensor's name, dtype, shape and bytes (in
    name order). Any changed, missing or extra byte changes it; a file stores it to prove it is whole."""
    h = hashlib.sha256()
    h.update(header.encode())
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
