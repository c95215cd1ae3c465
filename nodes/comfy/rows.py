"""sync-SDE's model calls: the source rows and the target rows of a step in one forward pass.

`SyncDenoiser` is made from a body's `Context` (guider.py) inside the guider ComfyUI runs: the guider's
positive is the target prompt and its cfg the target's scale; the source CONDITIONING is prepared by
ComfyUI's own `process_conds`, as the guider prepared its own.
"""

from __future__ import annotations

import comfy.model_management
import comfy.sampler_helpers
import comfy.samplers
import torch

from .guider import Context, cfg_rows, is_plain
from .model import check_same_encoder

# Cond-dict keys that act on a whole cond entry, not per row: entries carrying them are not merged.
_WHOLE_ENTRY_KEYS = ("area", "mask", "strength", "timestep_start", "timestep_end", "control", "gligen", "hooks",
                     "default")


def _rows_cond(parts: list[list[dict]], rows: int) -> list[dict] | None:
    """One prepared cond list giving the k-th block of `rows` rows the model conds of parts[k], or None.

    ComfyUI repeats a cond's tensors only where their batch differs from x's, so model conds that
    already hold one row per row of x condition every row on its own prompt. The blocks are joined by
    each cond's own `concat`, as ComfyUI joins a positive and a negative into one batch (a cross-
    attention context of another length is repeated to a common one, as there; Flux's guidance is a
    per-row value and merges). None where that is not possible: other numbers of entries, an area,
    mask, strength, timestep range, ControlNet, GLIGEN or hook on an entry, or model conds ComfyUI
    itself would not batch together.
    """
    if len({len(p) for p in parts}) != 1:
        return None
    merged = []
    for entries in zip(*parts, strict=True):
        if any(key in e for e in entries for key in _WHOLE_ENTRY_KEYS):
            return None
        keys = entries[0]["model_conds"].keys()
        if any(e["model_conds"].keys() != keys for e in entries):
            return None
        model_conds = {}
        for key in keys:
            blocks = [e["model_conds"][key].process_cond(batch_size=rows, area=None) for e in entries]
            first = blocks[0]
            if not all(type(c) is type(first) and first.can_concat(c) for c in blocks[1:]):
                return None
            model_conds[key] = first._copy_with(first.concat(blocks[1:]))
        merged.append({"model_conds": model_conds, "uuid": entries[0]["uuid"]})
    return merged


def check_negative(has_negative: bool, source_cfg: float, target_cfg: float, target_name: str = "target_cfg") -> None:
    """A scale other than 1 on either side needs a negative prompt (both sides share it)."""
    if not has_negative and (source_cfg != 1 or target_cfg != 1):
        raise ValueError(f"negative: source_cfg or {target_name} is not 1 but no negative prompt is connected: "
                         "connect one (an empty prompt is the usual choice), or set both scales to 1")


def _check_plain_guider(guider) -> None:
    if not is_plain(guider):
        raise ValueError(f"guider: sync-SDE takes the target prompt and cfg from a CFGGuider or BasicGuider, not a "
                         f"{type(guider).__name__}: connect one of those")


class SyncDenoiser:
    """`denoise(x [2B], sigma [2B], scale [2B]) -> x̂0 [2B]` for sync-SDE (sampling/sync.py's contract).

    Rows [:B] are evaluated under `source`, rows [B:] under the guider's positive (the target), each
    at its row's CFG scale against the guider's negative (shared by both). Made from a body's Context, whose
    guider (a CFGGuider or BasicGuider, or the node's own) holds the target; the source CONDITIONING is
    prepared by ComfyUI's own `process_conds`, as the guider prepared its own.

    One forward pass per call: the source and target conds are merged row by row (`_rows_cond`) and
    evaluated on [x; y] with the negative in the same batch by ComfyUI's `calc_cond_batch`: 2B rows
    where every scale is 1, 3B where only one side's scale is not 1 (the negative on that side's rows
    only), 4B where both sides are under CFG (the negative on all 2B rows). Where the two
    conditionings cannot be merged (see `_rows_cond`: e.g. a conditioning with an area, a mask, a
    timestep range or a ControlNet, or combined from a different number of entries) it falls back to
    two passes, one per prompt. The model's wrappers, patches and `sampler_cfg_function` /
    post-CFG functions apply; `sampler_pre_cfg_function` and `sampler_calc_cond_batch_function` are
    not called.
    """

    def __init__(self, ctx: Context, source):
        guider = ctx.guider
        _check_plain_guider(guider)
        self.guider = guider
        self.options = ctx.options
        self.device = ctx.device
        self.target_cfg = float(guider.cfg)
        conds = comfy.sampler_helpers.convert_cond(source)
        check_same_encoder(source=conds, positive=guider.original_conds.get("positive"))
        if any(key in c for c in conds for key in ("control", "gligen", "hooks")):
            raise ValueError("source: a ControlNet, GLIGEN or hooks on the source conditioning is not supported by "
                             "sync-SDE: connect the plain text conditioning")
        self.source = comfy.samplers.process_conds(guider.inner_model, ctx.noise, {"source": conds}, ctx.device,
                                                   ctx.latent_image, ctx.denoise_mask, ctx.seed)["source"]
        self.target, self.negative = guider.conds.get("positive"), guider.conds.get("negative")
        rows = ctx.noise.shape[0]
        self.merged = _rows_cond([self.source, self.target], rows)
        # source, target and the negative of one side's rows, for a step where only that side is under CFG
        self.merged_one_side = (None if self.merged is None or self.negative is None
                                else _rows_cond([self.source, self.target, self.negative], rows))

    def check_scales(self, source_cfg: float) -> None:
        """A scale other than 1 needs the guider's negative prompt."""
        check_negative(self.negative is not None, source_cfg, self.target_cfg, "the guider's cfg")

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        comfy.model_management.throw_exception_if_processing_interrupted()
        model, b = self.guider.inner_model, x.shape[0] // 2
        x_in, t = x.to(self.device, torch.float32), sigma.to(self.device, torch.float32)
        w = scale.to(self.device, torch.float32).view((-1,) + (1,) * (x.ndim - 1))
        guided = bool((w[:b] != 1).any()), bool((w[b:] != 1).any())
        negative = None if not any(guided) else self.negative
        if negative is not None and guided[0] != guided[1] and self.merged_one_side is not None:
            # One side under CFG: the negative runs on that side's B rows only, in the same pass (3B rows).
            side = slice(None, b) if guided[0] else slice(b, None)
            (out,) = comfy.samplers.calc_cond_batch(model, [self.merged_one_side], torch.cat([x_in, x_in[side]]),
                                                    torch.cat([t, t[side]]), self.options)
            cond = out[: 2 * b].clone()
            cond[side] = cfg_rows(model, cond[side], out[2 * b :], w[side], x_in[side], t[side], self.options,
                                  self.target, negative)
            return cond.to(x.device, x.dtype)
        if self.merged is not None:
            cond, uncond = comfy.samplers.calc_cond_batch(model, [self.merged, negative], x_in, t, self.options)
        else:
            halves = [comfy.samplers.calc_cond_batch(model, [c, negative], x_in[rows], t[rows], self.options)
                      for c, rows in ((self.source, slice(None, b)), (self.target, slice(b, None)))]
            cond, uncond = (torch.cat(h) for h in zip(*halves, strict=True))
        return cfg_rows(model, cond, uncond, w, x_in, t, self.options, self.target, negative).to(x.device, x.dtype)
