"""Ground-truth benchmarks in the shapes world: drag, DiffEdit masks, prompt changes; SDE vs ODE (issue 11).

Every edit of a shapes scene has an exact answer, so the pack's nodes are scored against it
(sampling/shapes_metrics.py) instead of by eye. Runs ComfyUI in this process (the pack loaded by
ComfyUI's own loader) on the pack's conditional shapes model (32 px), calling the same nodes a graph
runs, and counts the model's forward passes through ComfyUI's unet wrapper.

    python scripts/bench_shapes.py run drag --scenes 100      # one task's rows → docs/shapes_bench/drag.json
    python scripts/bench_shapes.py run diffedit --scenes 100
    python scripts/bench_shapes.py run semantic --scenes 100
    python scripts/bench_shapes.py run sweeps --scenes 12
    python scripts/bench_shapes.py report                     # tables with bootstrap CIs, plots → docs/

Tasks can run in parallel processes (one torch thread each: `--threads`). Rows are plain JSON, one
per (scene, method, setting), with the metrics, model calls, rows evaluated and wall time, so the
report (and anyone) can recompute every number. Example grids are written by `run` for the first
scenes of each task. Settings are below (`DEFAULTS`); docs/shapes_benchmarks.md says what they mean.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "scripts"):  # appended: ComfyUI's own `nodes` must win over the pack's nodes/ package
    if str(_p) not in sys.path:
        sys.path.append(str(_p))

OUT = ROOT / "docs" / "shapes_bench"
REPORT = ROOT / "docs" / "shapes_benchmarks.md"
WEIGHTS = "shapes_cond_32.safetensors"
SIZE = 32
TASKS = ("drag", "diffedit", "semantic", "sweeps", "steps")
DEFAULTS = {
    # SDE-Drag as the paper (t0 0.6, step 2 latent px, α 1.1, β 0.3, CFG 3 falling linearly to 1) but 20
    # steps below t0 instead of 120 (a 32 px model on a CPU; docs/shapes_benchmarks.md).
    "drag": {"t0": 0.6, "steps": 20, "step_size": 2.0, "alpha": 1.1, "beta": 0.3, "cfg": 3.0},
    # DiffEdit as the reference pipeline (CFG 7.5, 10 noises at strength 0.5, clamp 3, threshold 0.5).
    "diffedit": {"cfg": 7.5, "noises": 10, "noise_strength": 0.5, "clamp_factor": 3.0},
    # Prompt change: CFG 7.5 on both sides (the paper's DiffEdit-SDE), t0 0.6, 20 steps below it.
    "semantic": {"t0": 0.6, "steps": 20, "cfg": 7.5},
}
STEPS_SWEEP = (20, 60, 120)  # steps below t0: the benchmark's 20 up to the paper's 120 (SDE and ODE)
SWEEPS = {"t0": (0.4, 0.5, 0.6, 0.7, 0.8), "alpha": (1.0, 1.1, 1.3), "beta": (0.0, 0.3, 0.6),
          "step_size": (1.0, 2.0, 4.0, 8.0)}


# ----------------------------------------------------------------------------------------------- cases

def drag_cases(n: int, seed: int = 11):
    """n single-object scenes (any of the 8 classes) and a drag of the object's centre to a random point
    0.1–0.6 of the side away, inside the image: [(scene, answer, class prompt, (sx, sy, tx, ty) in px)]."""
    from sampling import shapes_world as world

    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        c = int(rng.integers(world.N_CLASSES))
        scene = world.random_scene(rng, 1, kind=c // 4, colour=c % 4, r_range=(0.12, 0.18))
        o = scene.shapes[0]
        d, a = float(rng.uniform(0.1, 0.6)), float(rng.uniform(0, 2 * math.pi))
        tx, ty = o.cx + d * math.cos(a), o.cy + d * math.sin(a)
        if not (o.r <= tx <= 1 - o.r and o.r <= ty <= 1 - o.r):
            continue  # the target must keep the whole object inside: draw another drag
        out.append((scene, world.moved(scene, 0, tx, ty), prompt_of(o),
                    (o.cx * SIZE, o.cy * SIZE, tx * SIZE, ty * SIZE)))
    return out


def edit_cases(n: int, seed: int = 12):
    """n single-object scenes, each with a recolour (to another palette colour) and a reshape (disc ↔ square):
    [(scene, {"recolour": answer, "reshape": answer})]."""
    from sampling import shapes_world as world

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = int(rng.integers(world.N_CLASSES))
        scene = world.random_scene(rng, 1, kind=c // 4, colour=c % 4, r_range=(0.12, 0.18))
        o = scene.shapes[0]
        colour = int((o.colour + rng.integers(1, 4)) % 4)
        out.append((scene, {"recolour": world.recoloured(scene, 0, colour),
                            "reshape": world.reshaped(scene, 0, 1 - o.kind)}))
    return out


def prompt_of(shape) -> str:
    from sampling import shapes_world as world

    return f"{world.COLOURS[shape.colour]} {world.KINDS[shape.kind]}"


# ----------------------------------------------------------------------------------------------- host

class Bench:
    """The in-process ComfyUI, the shapes model and a counter of its forward passes."""

    def __init__(self, nodes=None, weights: str = WEIGHTS):
        """`nodes`: ComfyUI's `nodes` module with the pack loaded (None: load ComfyUI here, in a temporary folder)."""
        import torch
        from hostlib import load_in_process

        self.torch = torch
        self.nodes = nodes or load_in_process(pathlib.Path(tempfile.mkdtemp(prefix="sde_edit_bench_")))
        model, self.vae = self.call("SDEEditLoadShapesModel", weights=weights)
        from bench_host import CallCounter  # the benchmarks' one pass counter (ComfyUI's unet wrapper hook)

        self.counter = CallCounter(model)
        self.model = self.counter.model
        self.null = self.prompt("")

    def call(self, node_id: str, **kw):
        with self.torch.inference_mode():
            return self.nodes.NODE_CLASS_MAPPINGS[node_id].execute(**kw).result

    def prompt(self, text: str):
        return self.call("SDEEditShapesPrompt", text=text)[0]

    def measure(self, fn):
        """(result, {"calls", "rows", "seconds"}) of fn()."""
        self.counter.rows.clear()
        start = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - start, 3)
        return result, {"calls": self.counter.calls, "rows": sum(self.counter.rows), "seconds": seconds}


def latent_of(scene):
    from sampling import shapes_world as world

    return {"samples": world.render(scene, SIZE) * 2 - 1}


def image_of(latent):
    return ((latent["samples"][0].float() + 1) / 2).clamp(0, 1)


# ----------------------------------------------------------------------------------------------- tasks

def run_drag(b: Bench, scene, answer, prompt: str, pts, seed: int, methods=("copy_paste", "sde", "ode"), **over):
    """{method: (image, cost)} of one drag; settings DEFAULTS["drag"] updated by `over`."""
    s = DEFAULTS["drag"] | over
    lat = latent_of(scene)
    r = round(scene.shapes[0].r * SIZE) + 2  # the copied square covers the object and a rim of background
    points = json.dumps([{"source": list(pts[:2]), "target": list(pts[2:])}])
    pos = b.prompt(prompt)
    out = {}
    for method in methods:
        if method == "copy_paste":
            fn = lambda: b.call("SDEEditDragCopyPaste", model=b.model, latent=lat, points=points, r=r,  # noqa: E731
                                alpha=s["alpha"], beta=s["beta"], seed=seed, vae=b.vae)[0]
        else:
            fn = lambda m=method: b.call(  # noqa: E731
                "SDEEditSDEDrag", model=b.model, positive=pos, negative=b.null, latent=lat, points=points,
                t0=s["t0"], steps=s["steps"], step_size=s["step_size"], r=r, alpha=s["alpha"], beta=s["beta"],
                cfg=s["cfg"], seed=seed, method=m, multi_point="simultaneous", scheduler="simple",
                precision="float32", vae=b.vae)[0]
        result, cost = b.measure(fn)
        out[method] = (image_of(result), cost)
    return out


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
    for name, stage1, method, m, first in (("cycle_sde", cyc, "cycle_sde", None, c1),
                                           ("diffedit_sde", cyc, "cycle_sde", mask, c1),
                                           ("ddim", ddim, "ddim", None, c2),
                                           ("diffedit_ode", ddim, "ddim", mask, c2)):
        result, cost = b.measure(lambda s1=stage1, me=method, mm=m: resample(s1, me, mm))
        cost = {k: cost[k] + first[k] + (mask_cost[k] if m is not None else 0) for k in cost}
        out[name] = (image_of(result), cost)
    result, cost = b.measure(lambda: b.call(
        "SDEEditSyncSDE", model=b.model, source=src, source_cfg=s["cfg"], target=tgt, target_cfg=s["cfg"],
        latent=lat, steps=s["steps"], t0=s["t0"], scheduler="simple", seed=seed, discretization="euler_maruyama",
        precision="float32", negative=b.null)[0])
    out["sync_sde"] = (image_of(result), cost)
    return out


def run_diffedit(b: Bench, scene, answer, seed: int, reference: str, noise_strength: float, noises: int):
    """(soft map [H, W], cost) of DiffEdit for scene → answer against `reference` ("source": the scene's class,
    "empty": the null prompt)."""
    lat = latent_of(scene)
    tgt = b.prompt(prompt_of(answer.shapes[0]))
    ref = b.prompt(prompt_of(scene.shapes[0]) if reference == "source" else "")
    d = DEFAULTS["diffedit"]
    (mask, soft), cost = b.measure(lambda: b.call(
        "SDEEditDiffEditMask", model=b.model, target=tgt, reference=ref, latent=lat, cfg=d["cfg"], noises=noises,
        noise_strength=noise_strength, clamp_factor=d["clamp_factor"], threshold=0.5, seed=seed, batch_size=0,
        vae=b.vae))
    return soft[0].float(), cost


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
STRENGTHS = (0.3, 0.5, 0.7)
NOISES = (1, 5, 10, 20)


def task_rows(task: str, b: Bench, n: int, grid_path: pathlib.Path | None = None, grid_scenes: int = 6,
              log=print, **over) -> list[dict]:
    """Rows of one task over n scenes (and an example grid of the first `grid_scenes`)."""
    from sampling import shapes_metrics as metrics
    from sampling import shapes_world as world

    rows, grid = [], []
    if task in ("drag", "sweeps", "steps"):
        cases = drag_cases(n)
        settings = {
            "drag": [({}, ("copy_paste", "sde", "ode"))],
            "sweeps": [({"t0": v}, ("sde", "ode")) for v in SWEEPS["t0"]]
            + [({k: v}, ("sde",)) for k in ("alpha", "beta", "step_size") for v in SWEEPS[k]],
            "steps": [({"steps": v}, ("sde", "ode")) for v in STEPS_SWEEP],
        }[task]
        for k, (scene, answer, prompt, pts) in enumerate(cases):
            for over_k, methods in settings:
                res = run_drag(b, scene, answer, prompt, pts, seed=k, methods=methods, **(over | over_k))
                dist = math.hypot(pts[2] - pts[0], pts[3] - pts[1])
                for method, (img, cost) in res.items():
                    rows.append({"task": task, "scene": k, "method": method, "setting": over_k, "drag_px": dist,
                                 **metrics.drag_metrics(img, scene, answer, 0), **cost})
                if task == "drag" and k < grid_scenes:
                    grid.append([world.render(scene, SIZE)[0], world.render(answer, SIZE)[0],
                                 *(res[m][0] for m in methods)])
            log(f"{task} scene {k + 1}/{n}")
    elif task == "semantic":
        for k, (scene, answers) in enumerate(edit_cases(n)):
            for edit, answer in answers.items():
                res = run_semantic(b, scene, answer, seed=k, **over)
                for method, (img, cost) in res.items():
                    rows.append({"task": task, "scene": k, "edit": edit, "method": method,
                                 **metrics.edit_metrics(img, scene, answer, 0), **cost})
                if k < grid_scenes:
                    grid.append([world.render(scene, SIZE)[0], world.render(answer, SIZE)[0],
                                 *(img for img, _ in res.values())])
            log(f"{task} scene {k + 1}/{n}")
    elif task == "diffedit":
        for k, (scene, answers) in enumerate(edit_cases(n)):
            truth = world.object_masks(scene, SIZE)[0, 0]
            answer = answers["recolour"]
            for reference in ("source", "empty"):
                for strength in STRENGTHS:
                    for noises in NOISES:
                        default = (strength == DEFAULTS["diffedit"]["noise_strength"],
                                   noises == DEFAULTS["diffedit"]["noises"])
                        if not any(default):
                            continue  # vary one setting at a time
                        soft, cost = run_diffedit(b, scene, answer, k, reference, strength, noises)
                        row = {"task": task, "scene": k, "reference": reference, "noise_strength": strength,
                               "noises": noises, **cost}
                        for thr in THRESHOLDS:
                            row[f"iou@{thr}"] = metrics.mask_iou(soft, truth, thr)
                            row[f"iou_post@{thr}"] = metrics.mask_iou(soft, truth, thr, post=True)
                        rows.append(row)
                        if k < grid_scenes and reference == "source" and all(default):
                            post = metrics.fill_holes(metrics.postprocess_map(soft) > 0.5)
                            grid.append([world.render(scene, SIZE)[0], *(m.float().expand(3, -1, -1) for m in
                                                                          (truth, soft, soft > 0.5, post))])
            log(f"{task} scene {k + 1}/{n}")
    else:
        raise ValueError(f"unknown task {task!r}: one of {TASKS}")
    if grid_path is not None and grid:
        save_grid(grid, grid_path)
    return rows


def save_grid(rows: list[list], path: pathlib.Path, zoom: int = 4) -> None:
    """Images [3, H, W] in [0, 1], one list per grid row, upscaled `zoom`× (nearest), 2 px white gaps."""
    from PIL import Image

    h = rows[0][0].shape[-1] * zoom
    cols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (cols * (h + 2), len(rows) * (h + 2)), "white")
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            a = (img.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype("uint8")
            canvas.paste(Image.fromarray(a).resize((h, h), Image.NEAREST), (j * (h + 2), i * (h + 2)))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


# ----------------------------------------------------------------------------------------------- report

def bootstrap(values, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 2.5 %, 97.5 %) of the mean over scenes, by a percentile bootstrap; nan-free values only."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (n, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def paired(rows: list[dict], a: str, b: str, key: str, **match) -> tuple[float, float, float, int]:
    """Bootstrap of the per-scene difference a − b of `key` (scenes where both are defined), and their count."""
    def by_scene(method):
        return {r["scene"]: r[key] for r in rows
                if r["method"] == method and all(r.get(k) == v for k, v in match.items())}
    ra, rb = by_scene(a), by_scene(b)
    diffs = [ra[s] - rb[s] for s in ra if s in rb and not (math.isnan(ra[s]) or math.isnan(rb[s]))]
    return (*bootstrap(diffs), len(diffs))


def fmt(ci: tuple, digits: int = 2, pct: bool = False) -> str:
    m, lo, hi = ci[:3]
    if math.isnan(m):
        return "–"
    f = (lambda x: f"{100 * x:.0f}") if pct else (lambda x: f"{x:.{digits}f}")
    return f"{f(m)} [{f(lo)}, {f(hi)}]"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run one task and write its rows")
    run.add_argument("task", choices=TASKS)
    run.add_argument("--scenes", type=int, default=100)
    run.add_argument("--threads", type=int, default=1, help="torch threads (1: tasks can run side by side)")
    run.add_argument("--out", type=pathlib.Path, default=OUT)
    rep = sub.add_parser("report", help="tables, plots and the markdown report from the rows in docs/shapes_bench/")
    rep.add_argument("--out", type=pathlib.Path, default=OUT, help="where the rows are (and the plots go)")
    rep.add_argument("--report", type=pathlib.Path, default=REPORT)
    args = ap.parse_args(argv)
    if args.cmd == "report":
        from bench_shapes_report import write_report

        write_report(args.out, args.report)
        return 0
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    b = Bench()
    rows = task_rows(args.task, b, args.scenes, grid_path=args.out / f"{args.task}_examples.png",
                     log=lambda m: print(f"{time.time() - start:7.1f} s  {m}", flush=True))
    path = write_rows(args.task, rows, args.out, scenes=args.scenes, threads=args.threads,
                      seconds=round(time.time() - start, 1))
    print(f"wrote {len(rows)} rows to {path} in {time.time() - start:.0f} s")
    return 0


def write_rows(task: str, rows: list[dict], out: pathlib.Path, **meta) -> pathlib.Path:
    """docs/shapes_bench/TASK.json: the rows and how they were made (settings, model, machine)."""
    import torch

    meta = {"task": task, "weights": WEIGHTS, "size": SIZE, "settings": DEFAULTS,
            "sweeps": {"sweeps": SWEEPS, "steps": STEPS_SWEEP}.get(task), "torch": torch.__version__,
            "machine": machine()} | meta
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{task}.json"
    def rounded(r: dict) -> dict:  # 5 decimals: far below any difference the report resolves
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}

    body = ",\n".join(json.dumps(rounded(r)) for r in rows)  # one row a line: small files, readable diffs
    path.write_text(f'{{"meta": {json.dumps(meta)},\n"rows": [\n{body}\n]}}\n')
    return path


def machine() -> str:
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end"


if __name__ == "__main__":
    sys.exit(main())
