"""The shapes benchmarks' edits: each method of each task through the pack's nodes on the one in-process ComfyUI
(scripts/inprocess.py) with the conditional shapes model, its model calls counted, and the rows file."""

from __future__ import annotations

import json
import os
import pathlib
import time

from inprocess import CallCounter, Comfy

from bench.shapes_config import (
    DEFAULTS,
    DRAG_VARIANTS,
    EXAMPLE_RECOLOUR,
    LORA,
    SEMANTIC_T0,
    SIZE,
    STEPS_SWEEP,
    SWEEPS,
    SYNC_VARIANTS,
    WEIGHTS,
    prompt_of,
)


class Bench:
    """The in-process ComfyUI, the shapes model and a counter of its forward passes."""

    def __init__(self, comfy: Comfy | None = None, weights: str = WEIGHTS):
        """`comfy`: ComfyUI with the pack loaded (None: load it here, in a temporary folder)."""
        self.comfy = comfy or Comfy()
        model, self.vae = self.call("SDEEditLoadShapesModel", weights=weights)
        self.counter = CallCounter(model)
        self.model = self.counter.model
        self.null = self.prompt("")

    def call(self, node_id: str, **kw):
        return self.comfy.call(node_id, **kw)

    def prompt(self, text: str):
        return self.call("SDEEditShapesPrompt", text=text)[0]

    def measure(self, fn):
        """(result, {"calls", "rows", "seconds"}) of fn()."""
        self.counter.calls.clear()
        start = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - start, 3)
        return result, {"calls": len(self.counter.calls), "rows": sum(self.counter.calls), "seconds": seconds}


def latent_of(scene):
    from shapes import world

    return {"samples": world.render(scene, SIZE) * 2 - 1}


def image_of(latent):
    return ((latent["samples"][0].float() + 1) / 2).clamp(0, 1)


def drag_mask(pts, r: int, size: int = SIZE, grow: int = 2):
    """The masked setting (like DragBench's user masks): the union of the source and target squares of
    half-extent r, dilated by `grow` px, as a ComfyUI MASK [1, H, W]; it knows nothing of the answer."""
    import torch

    m = torch.zeros(1, size, size)
    for x, y in (pts[:2], pts[2:]):
        x, y = int(x), int(y)
        m[:, max(0, y - r - grow):y + r + grow, max(0, x - r - grow):x + r + grow] = 1.0
    return m


def run_drag(b: Bench, scene, answer, prompt: str, pts, seed: int, methods=("copy_paste", "sde", "ode"),
             masked: bool = False, lora: dict | None = None, lora_min: float = LORA["lora_min"], **over):
    """{method: (image, cost)} of one drag; settings DEFAULTS["drag"] updated by `over`; methods from
    DRAG_VARIANTS; `masked`: the SDE/ODE drags get the user-style mask `drag_mask`; `lora`: the SDE/ODE drags
    get this LoRA of the input image at the falling strength down to `lora_min` (the floor never does)."""
    s = DEFAULTS["drag"] | over
    lat = latent_of(scene)
    r = round(scene.shapes[0].r * SIZE) + 2  # the copied square covers the object and a rim of background
    points = json.dumps([{"source": list(pts[:2]), "target": list(pts[2:])}])
    pos = b.prompt(prompt)
    extra = {"mask": drag_mask(pts, r)} if masked else {}
    extra |= {"lora": lora, "lora_min": lora_min} if lora is not None else {}
    out = {}
    for method in methods:
        variant = DRAG_VARIANTS[method]
        if variant is None:  # the floor: Eq. 12 on the clean image (noise at t0's scale), no resampling
            def fn():
                _, traj = b.call("SDEEditNoiseAddingInversion", model=b.model, latent=lat, t0=s["t0"], steps=1,
                                 seed=seed, scheduler="simple", independent_noise=False, precision="float32")
                return b.call("SDEEditDragCopyPaste", model=b.model, latent=lat, trajectory=traj, points=points,
                              r=r, alpha=s["alpha"], beta=s["beta"], seed=seed, vae=b.vae)[0]
        else:
            fn = lambda v=variant: b.call(  # noqa: E731
                "SDEEditSDEDrag", model=b.model, positive=pos, negative=b.null, latent=lat, points=points,
                t0=s["t0"], steps=s["steps"], step_size=s["step_size"], r=r, alpha=s["alpha"], beta=s["beta"],
                cfg=s["cfg"], seed=seed, multi_point="simultaneous", scheduler="simple", precision="float32",
                vae=b.vae, **v, **extra)[0]
        result, cost = b.measure(fn)
        out[method] = (image_of(result), cost)
    return out


def run_drag_lora(b: Bench, scene, answer, prompt: str, pts, seed: int, methods=("copy_paste", "sde_moved", "ode"),
                  lora_settings: dict | None = None, **over):
    """({method: (image, cost)}, training) of one drag without and with a LoRA of the input image trained here
    (SDEEditTrainImageLoRA at LORA updated by `lora_settings`, the scene's class prompt, seed `seed`): the
    methods as run_drag, then each but the floor again with the LoRA as METHOD + "_lora". `training`: its
    "lora_seconds", "lora_calls" (model calls) and final "lora_loss" (the node's mean over the last 10 steps)."""
    t = LORA | (lora_settings or {})
    (lora, loss), cost = b.measure(lambda: b.call(
        "SDEEditTrainImageLoRA", model=b.model, positive=b.prompt(prompt), latent=latent_of(scene), steps=t["steps"],
        rank=t["rank"], learning_rate=t["learning_rate"], seed=seed, training_dtype=t["training_dtype"]))
    out = run_drag(b, scene, answer, prompt, pts, seed, methods=methods, **over)
    with_lora = run_drag(b, scene, answer, prompt, pts, seed, methods=[m for m in methods if m != "copy_paste"],
                         lora=lora, lora_min=t["lora_min"], **over)
    out |= {f"{m}_lora": v for m, v in with_lora.items()}
    return out, {"lora_seconds": cost["seconds"], "lora_calls": cost["calls"], "lora_loss": float(loss)}


def run_semantic(b: Bench, scene, answer, seed: int, **over):
    """{method: (image, cost)} of one prompt change scene → answer (class prompts), DEFAULTS["semantic"]."""
    s = DEFAULTS["semantic"] | over
    lat = latent_of(scene)
    src, tgt = b.prompt(prompt_of(scene.shapes[0])), b.prompt(prompt_of(answer.shapes[0]))
    common = {"model": b.model, "negative": b.null, "cfg": s["cfg"], "cfg_schedule": "constant"}
    d = DEFAULTS["diffedit"]
    mask, mask_cost = b.measure(lambda: b.call(
        "SDEEditDiffEditMask", model=b.model, target=tgt, reference=src, latent=lat, cfg=d["cfg"], noises=d["noises"],
        noise_strength=d["noise_strength"], clamp_factor=d["clamp_factor"], threshold=0.5, seed=seed, batch_size=0,
        vae=b.vae)[0])

    def stage(node: str, **kw):
        return b.call(node, positive=src, latent=lat, t0=s["t0"], steps=s["steps"], scheduler="simple",
                      precision="float32", **common, **kw)

    def resample(stage1, method, m=None):
        kw = {"mask": m} if m is not None else {}
        return b.call("SDEEditResample", positive=tgt, latent=stage1[0], trajectory=stage1[1], method=method,
                      seed=seed, **common, **kw)[0]

    out = {}
    (cyc, c1) = b.measure(lambda: stage("SDEEditCycleSDERecord", seed=seed, batch_size=1, independent_noise=False))
    (ddim, c2) = b.measure(lambda: stage("SDEEditDDIMInversion"))
    (noised, c3) = b.measure(lambda: b.call("SDEEditNoiseAddingInversion", model=b.model, latent=lat, t0=s["t0"],
                                            steps=s["steps"], seed=seed, scheduler="simple", independent_noise=False,
                                            precision="float32"))
    for name, stage1, method, m, first in (("cycle_sde", cyc, "cycle_sde", None, c1),
                                           ("diffedit_sde", cyc, "cycle_sde", mask, c1),
                                           ("ddim", ddim, "ddim", None, c2),
                                           ("diffedit_ode", ddim, "ddim", mask, c2),
                                           ("ddpm", noised, "ddpm", None, c3)):
        result, cost = b.measure(lambda s1=stage1, me=method, mm=m: resample(s1, me, mm))
        cost = {k: cost[k] + first[k] + (mask_cost[k] if m is not None else 0) for k in cost}
        out[name] = (image_of(result), cost)
    result, cost = b.measure(lambda: b.call(
        "SDEEditSyncSDE", model=b.model, source=src, source_cfg=s["cfg"], target=tgt, target_cfg=s["cfg"],
        latent=lat, steps=s["steps"], t0=s["t0"], scheduler="simple", seed=seed, discretization="euler_maruyama",
        precision="float32", negative=b.null)[0])
    out["sync_sde"] = (image_of(result), cost)
    if "t0" not in over:  # the shipped recolour example's recipe (its own t0), not swept
        out["masked_cycle_sde"] = run_masked_recolour(b, scene, lat, src, tgt, seed, s["steps"])
    return out


def run_sync(b: Bench, scene, answer, seed: int, **over) -> dict:
    """{variant: (image, cost)} of sync-SDE for scene → answer with each of SYNC_VARIANTS' options."""
    from shapes import metrics, world

    s = DEFAULTS["semantic"] | over
    lat = latent_of(scene)
    src, tgt = b.prompt(prompt_of(scene.shapes[0])), b.prompt(prompt_of(answer.shapes[0]))
    grown = metrics.dilate(world.object_masks(scene, SIZE)[0, 0], EXAMPLE_RECOLOUR["grow"]).float()[None]
    out = {}
    for name, options in SYNC_VARIANTS.items():
        kw = {"source_cfg": s["cfg"]} | options | ({"mask": grown} if options.get("mask") else {})
        result, cost = b.measure(lambda kw=kw: b.call(
            "SDEEditSyncSDE", model=b.model, source=src, target=tgt, target_cfg=s["cfg"], latent=lat,
            steps=s["steps"], t0=s["t0"], scheduler="simple", seed=seed, discretization="euler_maruyama",
            precision="float32", negative=b.null, **kw)[0])
        out[name] = (image_of(result), cost)
    return out


def run_masked_recolour(b: Bench, scene, lat, src, tgt, seed: int, steps: int):
    """(image, cost) of the shapes prompt-change example's recipe (EXAMPLE_RECOLOUR): the object's mask grown
    by 2 px (what a user paints), Cycle-SDE recorded with the source prompt at CFG 1, replayed with the target
    prompt at CFG 7.5 against the source prompt as the negative, inside the mask."""
    from shapes import metrics, world

    e = EXAMPLE_RECOLOUR
    mask = metrics.dilate(world.object_masks(scene, SIZE)[0, 0], e["grow"]).float()[None]

    def fn():
        rec = b.call("SDEEditCycleSDERecord", model=b.model, positive=src, negative=src, cfg=1.0,
                     cfg_schedule="constant", latent=lat, t0=e["t0"], steps=steps,
                     scheduler="simple", precision="float32", seed=seed, batch_size=1, independent_noise=False)
        return b.call("SDEEditResample", model=b.model, positive=tgt, negative=src, cfg=e["cfg"],
                      cfg_schedule="constant", latent=rec[0], trajectory=rec[1], method="cycle_sde", seed=seed,
                      mask=mask)[0]

    result, cost = b.measure(fn)
    return image_of(result), cost


def run_diffedit(b: Bench, scene, answer, seed: int, reference: str, noise_strength: float, noises: int,
                 smoothing: float = 0.0, fill: bool = False):
    """(soft map [H, W], cost) of DiffEdit for scene → answer against `reference` ("source": the scene's class,
    "empty": the null prompt), with the node's map steps `smoothing` and `fill` (fill_holes)."""
    lat = latent_of(scene)
    tgt = b.prompt(prompt_of(answer.shapes[0]))
    ref = b.prompt(prompt_of(scene.shapes[0]) if reference == "source" else "")
    d = DEFAULTS["diffedit"]
    (mask, soft), cost = b.measure(lambda: b.call(
        "SDEEditDiffEditMask", model=b.model, target=tgt, reference=ref, latent=lat, cfg=d["cfg"], noises=noises,
        noise_strength=noise_strength, clamp_factor=d["clamp_factor"], threshold=0.5, seed=seed, batch_size=0,
        smoothing=smoothing, fill_holes=fill, vae=b.vae))
    return soft[0].float(), cost


def write_rows(task: str, rows: list[dict], out: pathlib.Path, **meta) -> pathlib.Path:
    """docs/shapes_bench/TASK.json: the rows and how they were made (settings, model, machine)."""
    import torch

    meta = {"task": task, "weights": WEIGHTS, "size": SIZE, "settings": DEFAULTS,
            "sweeps": {"sweeps": SWEEPS, "steps": STEPS_SWEEP, "semantic_t0": SEMANTIC_T0}.get(task),
            "variants": DRAG_VARIANTS, "torch": torch.__version__,
            "machine": machine_line()} | meta
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{task}.json"
    def rounded(r: dict) -> dict:  # 5 decimals: far below any difference the report resolves
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}

    body = ",\n".join(json.dumps(rounded(r)) for r in rows)  # one row a line: small files, readable diffs
    path.write_text(f'{{"meta": {json.dumps(meta)},\n"rows": [\n{body}\n]}}\n')
    return path



def machine_line() -> str:
    """The rows file's one-line machine: the report's `machine()`, with the load at the end of the run."""
    from bench.report import machine

    info = machine()
    return f"{info['CPU']}, {info['cores available']} cores, load {os.getloadavg()[0]:.1f} at the end"
