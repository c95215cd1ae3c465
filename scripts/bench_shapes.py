"""Ground-truth benchmarks in the shapes world: drag, DiffEdit masks, prompt changes; SDE vs ODE (issue 11).

Every edit of a shapes scene has an exact answer, so the pack's nodes are scored against it
(shapes/metrics.py) instead of by eye. Runs ComfyUI in this process (the pack loaded by
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
from bench_stats import machine

ROOT = pathlib.Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "scripts"):  # appended: ComfyUI's own `nodes` must win over the pack's nodes/ package
    if str(_p) not in sys.path:
        sys.path.append(str(_p))

OUT = ROOT / "docs" / "shapes_bench"
REPORT = ROOT / "docs" / "shapes_benchmarks.md"
WEIGHTS = "shapes_cond_32.safetensors"
SIZE = 32
TASKS = ("drag", "diffedit", "semantic", "semantic_t0", "sweeps", "steps")
# Each task's scenes: the headline tasks on held-out scenes, the sweeps (where settings are chosen) on tuning ones.
TASK_SPLIT = {"drag": "heldout", "diffedit": "heldout", "semantic": "heldout", "semantic_t0": "tuning",
              "sweeps": "tuning", "steps": "tuning"}
DEFAULTS = {
    # SDE-Drag as the paper (t0 0.6, step 2 latent px, α 1.1, β 0.3, CFG 3 falling linearly to 1) but 20
    # steps below t0 instead of 120 (a 32 px model on a CPU; docs/shapes_benchmarks.md).
    "drag": {"t0": 0.6, "steps": 20, "step_size": 2.0, "alpha": 1.1, "beta": 0.3, "cfg": 3.0},
    # DiffEdit as the reference pipeline (CFG 7.5, 10 noises at strength 0.5, clamp 3, threshold 0.5).
    "diffedit": {"cfg": 7.5, "noises": 10, "noise_strength": 0.5, "clamp_factor": 3.0},
    # Prompt change: CFG 7.5 on both sides (the paper's DiffEdit-SDE), t0 0.6, 20 steps below it.
    "semantic": {"t0": 0.6, "steps": 20, "cfg": 7.5},
}
SEMANTIC_T0 = (0.3, 0.4, 0.5, 0.6, 0.7)  # the recolour's t0 sweep
# The shipped recolour example (chosen on 12 tuning scenes): mask = the object grown 2 px, t0 0.5, CFG 7.5 with
# the source prompt as the negative (record at CFG 1: replaying the source prompt then reconstructs exactly).
EXAMPLE_RECOLOUR = {"t0": 0.5, "cfg": 7.5, "grow": 2}
STEPS_SWEEP = (20, 60, 120)  # steps below t0: the benchmark's 20 up to the paper's 120 (SDE and ODE)
SWEEPS = {"t0": (0.4, 0.5, 0.6, 0.7, 0.8), "alpha": (1.0, 1.1, 1.3), "beta": (0.0, 0.3, 0.6),
          "step_size": (1.0, 2.0, 4.0, 8.0)}


# ----------------------------------------------------------------------------------------------- cases

# Scene seeds. "tuning": the scenes every earlier run and every sweep used (settings were chosen on them);
# "heldout": scenes no tuning run has seen, for the report's headline numbers.
SPLITS = {"tuning": (11, 12), "heldout": (2011, 2012)}  # (drag seed, edit seed)


def drag_cases(n: int, split: str = "heldout"):
    """n single-object scenes (any of the 8 classes) and a drag of the object's centre to a random point
    0.1–0.6 of the side away, inside the image: [(scene, answer, class prompt, (sx, sy, tx, ty) in px)]."""
    from shapes import world

    rng = np.random.default_rng(SPLITS[split][0])
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


def edit_cases(n: int, split: str = "heldout"):
    """n single-object scenes, each with a recolour (to another palette colour) and a reshape (disc ↔ square):
    [(scene, {"recolour": answer, "reshape": answer})]."""
    from shapes import world

    rng = np.random.default_rng(SPLITS[split][1])
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
    from shapes import world

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
    from shapes import world

    return {"samples": world.render(scene, SIZE) * 2 - 1}


def image_of(latent):
    return ((latent["samples"][0].float() + 1) / 2).clamp(0, 1)


# ----------------------------------------------------------------------------------------------- tasks

# The drag methods: the floor, the ODE baseline, and SDE-Drag's variants (node options grid × square_noise).
# "sde_paper" is the paper's exact algorithm (the authors' grid, the recorded noise everywhere).
DRAG_VARIANTS = {
    "copy_paste": None,
    "ode": {"method": "ode", "grid": "scheduler", "square_noise": "recorded"},
    "sde_paper": {"method": "sde", "grid": "paper", "square_noise": "recorded"},
    "sde": {"method": "sde", "grid": "scheduler", "square_noise": "recorded"},
    "sde_fresh": {"method": "sde", "grid": "scheduler", "square_noise": "fresh"},
    "sde_paper_fresh": {"method": "sde", "grid": "paper", "square_noise": "fresh"},
    "sde_vacated": {"method": "sde", "grid": "scheduler", "square_noise": "fresh_vacated"},
    "sde_moved": {"method": "sde", "grid": "scheduler", "square_noise": "moved"},
    "sde_paper_moved": {"method": "sde", "grid": "paper", "square_noise": "moved"},
    "ode_paper": {"method": "ode", "grid": "paper", "square_noise": "recorded"},
}


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
             masked: bool = False, **over):
    """{method: (image, cost)} of one drag; settings DEFAULTS["drag"] updated by `over`; methods from
    DRAG_VARIANTS; `masked`: the SDE/ODE drags get the user-style mask `drag_mask`."""
    s = DEFAULTS["drag"] | over
    lat = latent_of(scene)
    r = round(scene.shapes[0].r * SIZE) + 2  # the copied square covers the object and a rim of background
    points = json.dumps([{"source": list(pts[:2]), "target": list(pts[2:])}])
    pos = b.prompt(prompt)
    mask = {"mask": drag_mask(pts, r)} if masked else {}
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
                vae=b.vae, **v, **mask)[0]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run one task and write its rows")
    run.add_argument("task", choices=TASKS)
    run.add_argument("--scenes", type=int, default=100)
    run.add_argument("--threads", type=int, default=1, help="torch threads (1: tasks can run side by side)")
    run.add_argument("--out", type=pathlib.Path, default=OUT)
    run.add_argument("--methods", default=None, help="comma-separated drag methods (default: all DRAG_VARIANTS)")
    run.add_argument("--masked", choices=("no", "yes", "both"), default="both", help="drag: which setting(s)")
    run.add_argument("--name", default=None, help="rows file name (default: the task's; the report reads "
                                                  "drag.json and drag_masked.json)")
    run.add_argument("--split", choices=list(SPLITS), default=None,
                     help="scene seeds: tuning or heldout (default: the task's own, TASK_SPLIT)")
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
    split = args.split or TASK_SPLIT[args.task]
    from bench_shapes_tasks import task_rows

    name = args.name or args.task
    masked = {"no": (False,), "yes": (True,), "both": (False, True)}[args.masked]
    methods = tuple(args.methods.split(",")) if args.methods else None
    rows = task_rows(args.task, b, args.scenes, grid_path=args.out / f"{name}_examples.png",
                     log=lambda m: print(f"{time.time() - start:7.1f} s  {m}", flush=True), split=split,
                     methods=methods, masked=masked)
    path = write_rows(name, rows, args.out, scenes=args.scenes, threads=args.threads, split=split,
                      scene_seeds=SPLITS[split], seconds=round(time.time() - start, 1))
    print(f"wrote {len(rows)} rows to {path} in {time.time() - start:.0f} s")
    return 0


def write_rows(task: str, rows: list[dict], out: pathlib.Path, **meta) -> pathlib.Path:
    """docs/shapes_bench/TASK.json: the rows and how they were made (settings, model, machine)."""
    import torch

    meta = {"task": task, "weights": WEIGHTS, "size": SIZE, "settings": DEFAULTS,
            "sweeps": {"sweeps": SWEEPS, "steps": STEPS_SWEEP, "semantic_t0": SEMANTIC_T0}.get(task),
            "variants": DRAG_VARIANTS, "torch": torch.__version__,
            "machine": machine()} | meta
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{task}.json"
    def rounded(r: dict) -> dict:  # 5 decimals: far below any difference the report resolves
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}

    body = ",\n".join(json.dumps(rounded(r)) for r in rows)  # one row a line: small files, readable diffs
    path.write_text(f'{{"meta": {json.dumps(meta)},\n"rows": [\n{body}\n]}}\n')
    return path


if __name__ == "__main__":
    sys.exit(main())
