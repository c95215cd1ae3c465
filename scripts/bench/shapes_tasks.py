"""The shapes benchmarks' tasks: the rows of each task over seeded scenes (scripts/bench_shapes.py runs them)."""

from __future__ import annotations

import math
import pathlib

from bench.shapes_config import (
    DEFAULTS,
    DIFFEDIT_VARIANTS,
    DRAG_VARIANTS,
    GRID_VARIANT,
    LORA_DRAGS,
    NOISES,
    SEMANTIC_T0,
    SIZE,
    STEPS_SWEEP,
    STRENGTHS,
    SWEEPS,
    TASK_SPLIT,
    TASKS,
    THRESHOLDS,
    drag_cases,
    edit_cases,
)
from bench.shapes_run import Bench, run_diffedit, run_drag, run_drag_lora, run_semantic, run_sync
from bench.stats import save_grid


def task_rows(task: str, b: Bench, n: int, grid_path: pathlib.Path | None = None, grid_scenes: int = 6,
              log=print, split: str | None = None, methods: tuple[str, ...] | None = None,
              masked: tuple[bool, ...] = (False, True), lora: dict | None = None, **over) -> list[dict]:
    """Rows of one task over n scenes of `split` (default: TASK_SPLIT[task]), and an example grid; `methods`
    keeps only those drag methods (all of the task's by default); `lora`: drag_lora's training settings changed
    from LORA (the tests' few steps)."""
    from shapes import metrics, world

    split = split or TASK_SPLIT[task]
    rows, grid = [], []
    if task in ("drag", "sweeps", "steps"):
        settings = {
            "drag": [({}, tuple(DRAG_VARIANTS), False), ({}, tuple(m for m in DRAG_VARIANTS if m != "copy_paste"),
                                                         True)],
            "sweeps": [({"t0": v}, ("sde", "sde_fresh", "ode"), False) for v in SWEEPS["t0"]]
            + [({k: v}, ("sde", "sde_fresh"), False) for k in ("alpha", "beta", "step_size") for v in SWEEPS[k]],
            "steps": [({"steps": v}, ("sde", "sde_fresh", "ode"), False) for v in STEPS_SWEEP],
        }[task]
        settings = [(o, tuple(m for m in ms if methods is None or m in methods), mk) for o, ms, mk in settings
                    if task != "drag" or mk in masked]
        for k, (scene, answer, prompt, pts) in enumerate(drag_cases(n, split)):
            for over_k, methods_k, mk in settings:
                res = run_drag(b, scene, answer, prompt, pts, seed=k, methods=methods_k, masked=mk, **(over | over_k))
                dist = math.hypot(pts[2] - pts[0], pts[3] - pts[1])
                for method, (img, cost) in res.items():
                    rows.append({"task": task, "split": split, "scene": k, "method": method, "masked": mk,
                                 "setting": over_k, "drag_px": dist,
                                 **metrics.drag_metrics(img, scene, answer, 0), **cost})
                if task == "drag" and k < grid_scenes and not mk:
                    grid.append([world.render(scene, SIZE)[0], world.render(answer, SIZE)[0],
                                 *(res[m][0] for m in methods_k)])
            log(f"{task} scene {k + 1}/{n}")
    elif task == "drag_lora":
        chosen = tuple(m for m in ("copy_paste", *LORA_DRAGS) if methods is None or m in methods)
        for k, (scene, answer, prompt, pts) in enumerate(drag_cases(n, split)):
            res, training = run_drag_lora(b, scene, answer, prompt, pts, seed=k, methods=chosen, lora_settings=lora,
                                          **over)
            dist = math.hypot(pts[2] - pts[0], pts[3] - pts[1])
            for method, (img, cost) in res.items():
                rows.append({"task": task, "split": split, "scene": k, "method": method, "masked": False,
                             "lora": method.endswith("_lora"), "setting": over, "drag_px": dist,
                             **metrics.drag_metrics(img, scene, answer, 0), **cost, **training})
            if k < grid_scenes:
                grid.append([world.render(scene, SIZE)[0], world.render(answer, SIZE)[0],
                             *(img for img, _ in res.values())])
            log(f"{task} scene {k + 1}/{n}: LoRA {training['lora_seconds']:.1f} s, loss {training['lora_loss']:.4f}")
    elif task in ("semantic", "semantic_t0"):
        edits = ("recolour", "reshape") if task == "semantic" else ("recolour",)
        t0s = (None,) if task == "semantic" else SEMANTIC_T0
        for k, (scene, answers) in enumerate(edit_cases(n, split)):
            for edit in edits:
                answer = answers[edit]
                for t0 in t0s:
                    over_k = over | ({} if t0 is None else {"t0": t0})
                    res = run_semantic(b, scene, answer, seed=k, **over_k)
                    for method, (img, cost) in res.items():
                        rows.append({"task": task, "split": split, "scene": k, "edit": edit, "method": method,
                                     "t0": over_k.get("t0", DEFAULTS["semantic"]["t0"]),
                                     **metrics.edit_metrics(img, scene, answer, 0), **cost})
                    if k < grid_scenes and t0 is None:
                        grid.append([world.render(scene, SIZE)[0], world.render(answer, SIZE)[0],
                                     *(img for img, _ in res.values())])
            log(f"{task} scene {k + 1}/{n}")
    elif task == "diffedit":
        for k, (scene, answers) in enumerate(edit_cases(n, split)):
            truth = world.object_masks(scene, SIZE)[0, 0]
            answer = answers["recolour"]
            for reference in ("source", "empty"):
                for strength in STRENGTHS:
                    for noises in NOISES:
                        default = (strength == DEFAULTS["diffedit"]["noise_strength"],
                                   noises == DEFAULTS["diffedit"]["noises"])
                        if not any(default):
                            continue  # vary one setting at a time; the map steps at the defaults only
                        variants = DIFFEDIT_VARIANTS if all(default) else {"raw": DIFFEDIT_VARIANTS["raw"]}
                        softs = {}
                        for variant, (smoothing, fill) in variants.items():
                            soft, cost = run_diffedit(b, scene, answer, k, reference, strength, noises, smoothing,
                                                      fill)
                            softs[variant] = soft
                            rows.append({"task": task, "split": split, "scene": k, "reference": reference,
                                         "noise_strength": strength, "noises": noises, "variant": variant,
                                         **{f"iou@{thr}": metrics.mask_iou(soft, truth, thr) for thr in THRESHOLDS},
                                         **cost})
                        if k < grid_scenes and reference == "source" and all(default):
                            shown = (truth, softs["raw"], softs["raw"] > 0.5, softs[GRID_VARIANT],
                                     softs[GRID_VARIANT] > 0.5)
                            grid.append([world.render(scene, SIZE)[0], *(m.float().expand(3, -1, -1) for m in shown)])
            log(f"{task} scene {k + 1}/{n}")
    elif task == "sync":
        for k, (scene, answers) in enumerate(edit_cases(n, split)):
            for edit in ("recolour", "reshape"):
                res = run_sync(b, scene, answers[edit], seed=k, **over)
                for method, (img, cost) in res.items():
                    rows.append({"task": task, "split": split, "scene": k, "edit": edit, "method": method,
                                 **metrics.edit_metrics(img, scene, answers[edit], 0), **cost})
                if k < grid_scenes:
                    grid.append([world.render(scene, SIZE)[0], world.render(answers[edit], SIZE)[0],
                                 *(img for img, _ in res.values())])
            log(f"{task} scene {k + 1}/{n}")
    else:
        raise ValueError(f"unknown task {task!r}: one of {TASKS}")
    if grid_path is not None and grid:
        save_grid(grid, grid_path)
    return rows
