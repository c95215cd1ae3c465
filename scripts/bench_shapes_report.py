"""The shapes benchmarks' report: tables with bootstrap confidence intervals, plots, claim checks.

Reads the rows `scripts/bench_shapes.py run TASK` wrote to docs/shapes_bench/TASK.json and writes
docs/shapes_benchmarks.md and docs/shapes_bench/*.png. `python scripts/bench_shapes.py report`.
Every number is a mean over scenes with a 95 % percentile-bootstrap interval over scenes; SDE-vs-ODE
claims are judged on the paired per-scene difference (its interval excluding 0).
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np
from bench_shapes import DEFAULTS, OUT, REPORT, STEPS_SWEEP, STRENGTHS, SWEEPS, THRESHOLDS, bootstrap, fmt, paired

DRAG_METHODS = {"copy_paste": "copy-paste, no resampling (floor)", "sde": "SDE-Drag", "ode": "ODE-Drag"}
EDIT_METHODS = {"cycle_sde": "Cycle-SDE", "diffedit_sde": "DiffEdit-SDE (Cycle-SDE + mask)", "ddim": "DDIM inversion",
                "diffedit_ode": "DiffEdit-ODE (DDIM + mask)", "sync_sde": "sync-SDE (Euler–Maruyama)"}


def load_rows(task: str, out: pathlib.Path = OUT) -> list[dict]:
    path = out / f"{task}.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def _col(rows, key, **match):
    return [r[key] for r in rows if all(r.get(k) == v for k, v in match.items())]


DRAG_OK = {"dist": 2.0, "iou": 0.5}  # a drag succeeds: on target within 2 px, IoU ≥ 0.5, no copy left, not lost
IN_PLACE_PX = 3.0  # a prompt change succeeds: the requested class within 3 px of where the object was


def drag_success(r: dict) -> float:
    return float(r["lost"] == 0 and r["dist"] <= DRAG_OK["dist"] and r["iou"] >= DRAG_OK["iou"]
                 and r["copy_left"] != 1)


def edit_success(r: dict) -> float:
    return float(r["class_ok"] == 1 and not math.isnan(r["shift"]) and r["shift"] <= IN_PLACE_PX)


def _yerr(stats) -> list[list[float]]:
    """Error bars (below, above the mean) of bootstrap triples."""
    return [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]


def _verdict(ci, better: str) -> str:
    """'yes' / 'no (the reverse)' / 'not resolved' from the CI of a difference, `better` 'lower' or 'higher'."""
    m, lo, hi = ci[:3]
    if math.isnan(m):
        return "–"
    good = hi < 0 if better == "lower" else lo > 0
    bad = lo > 0 if better == "lower" else hi < 0
    return "**yes**" if good else ("**no, the reverse**" if bad else "not resolved (the interval holds 0)")


def _meta(task, out: pathlib.Path = OUT):
    path = out / f"{task}.json"
    return json.loads(path.read_text())["meta"] if path.exists() else None


def drag_section(lines, plt, out: pathlib.Path = OUT):
    rows = [r | {"success": drag_success(r)} for r in load_rows("drag", out)]
    if not rows:
        return
    meta = _meta("drag", out)
    n = len({r["scene"] for r in rows})
    s = DEFAULTS["drag"]
    lines += [
        "## Drag", "",
        f"{n} scenes, one object each (any kind and colour, radius 0.12–0.18 of the side), its centre dragged "
        f"0.1–0.6 of the side in a random direction. SDE-Drag and ODE-Drag: t0 {s['t0']}, {s['steps']} steps below "
        f"t0 per sub-step, step {s['step_size']} px, α {s['alpha']}, β {s['beta']}, CFG {s['cfg']} falling to 1, "
        "r = the object's radius + 2 px, prompt = the object's class. The floor is the paper's copy-paste applied "
        "to the clean image with no noise and no resampling. Against the exact moved scene:", "",
        "- *dist*: px from the target to the centroid of the object's colour region (the one on the target);",
        "- *IoU*: of that region with the object at the target;",
        "- *copy left*: share of scenes where more than 30 % of the vacated area still shows the object's colour "
        "(drags longer than the object only);",
        "- *hole err* / *outside err*: mean |output − answer| (0..1 RGB) over the vacated area / farther than "
        "2 px from both object positions;",
        "- *lost*: the object's colour is gone;",
        f"- *success*: not lost, on target within {DRAG_OK['dist']:.0f} px with IoU ≥ {DRAG_OK['iou']}, no copy left.",
        "",
        "| method | success (%) | dist (px) | IoU | copy left (%) | hole err | outside err | lost (%) | model calls "
        "| s / edit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m, label in DRAG_METHODS.items():
        c = {k: bootstrap(_col(rows, k, method=m)) for k in
             ("success", "dist", "iou", "copy_left", "hole_err", "outside_err", "lost", "calls", "seconds")}
        lines.append(f"| {label} | {fmt(c['success'], pct=True)} | {fmt(c['dist'], 1)} | {fmt(c['iou'])} | "
                     f"{fmt(c['copy_left'], pct=True)} | "
                     f"{fmt(c['hole_err'], 3)} | {fmt(c['outside_err'], 3)} | {fmt(c['lost'], pct=True)} | "
                     f"{c['calls'][0]:.0f} | {c['seconds'][0]:.1f} |")
    lines += ["", "The paper's claim, SDE-Drag beats ODE-Drag, per metric (paired difference SDE − ODE over scenes):",
              "",
              "| metric | SDE − ODE | SDE better? |", "|---|---|---|"]
    for key, better, digits in (("success", "higher", 2), ("dist", "lower", 2), ("iou", "higher", 3),
                                ("copy_left", "lower", 2),
                                ("hole_err", "lower", 3), ("outside_err", "lower", 3)):
        ci = paired(rows, "sde", "ode", key)
        lines.append(f"| {key} | {fmt(ci, digits)} (n = {ci[3]}) | {_verdict(ci, better)} |")
    lines += ["", f"Machine: {meta['machine']}; {meta['threads']} torch thread; run time "
              f"{meta['seconds'] / 60:.0f} min.",
              "", "![drag metrics against the drag's length](shapes_bench/drag_by_length.png)", "",
              "Examples (input | answer | copy-paste | SDE-Drag | ODE-Drag):", "",
              "![drag examples](shapes_bench/drag_examples.png)", ""]
    # metrics by drag length
    bins = np.array([3, 7, 11, 15, 20])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for m, label in DRAG_METHODS.items():
        for ax, key in zip(axes, ("dist", "iou", "hole_err"), strict=True):
            xs, ys, lo, hi = [], [], [], []
            for a, b in zip(bins[:-1], bins[1:], strict=True):
                vals = [r[key] for r in rows if r["method"] == m and a <= r["drag_px"] < b]
                if vals:
                    mean, l, h = bootstrap(vals)
                    xs.append((a + b) / 2), ys.append(mean), lo.append(mean - l), hi.append(h - mean)
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label)
            ax.set_xlabel("drag length (px of 32)")
            ax.set_title(key)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "drag_by_length.png", dpi=90)
    plt.close(fig)


def sweeps_section(lines, plt, out: pathlib.Path = OUT):
    rows = load_rows("sweeps", out)
    if not rows:
        return
    n = len({r["scene"] for r in rows})
    lines += ["## Drag: sensitivity in miniature", "",
              f"The paper's sweeps (t0, α, β, step size) on the first {n} drag scenes, one setting changed at a "
              "time from the defaults above (ODE-Drag only for t0). Mean and 95 % bootstrap interval over scenes.",
              "", "![sweeps](shapes_bench/sweeps.png)", ""]
    keys = ("iou", "dist", "hole_err")
    fig, axes = plt.subplots(len(keys), len(SWEEPS), figsize=(13, 8))
    for j, (param, values) in enumerate(SWEEPS.items()):
        for method in ("sde", "ode"):
            sel = [r for r in rows if r["method"] == method and param in r["setting"]]
            if not sel:
                continue
            for i, key in enumerate(keys):
                stats = [bootstrap([r[key] for r in sel if r["setting"][param] == v]) for v in values]
                mean = [s[0] for s in stats]
                err = [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]
                axes[i, j].errorbar(values, mean, yerr=err, marker="o", capsize=3, label=DRAG_METHODS[method])
                axes[i, j].set_xlabel(param)
                axes[i, j].set_ylabel(key)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "sweeps.png", dpi=80)
    plt.close(fig)
    lines += ["| setting | SDE-Drag IoU | SDE-Drag dist (px) | ODE-Drag IoU | ODE-Drag dist (px) |",
              "|---|---|---|---|---|"]
    for param, values in SWEEPS.items():
        for v in values:
            cells = []
            for method in ("sde", "ode"):
                sel = [r for r in rows if r["method"] == method and r["setting"].get(param) == v]
                cells += [fmt(bootstrap([r["iou"] for r in sel])), fmt(bootstrap([r["dist"] for r in sel]), 1)] \
                    if sel else ["–", "–"]
            lines.append(f"| {param} = {v} | " + " | ".join(cells) + " |")
    lines.append("")


def steps_section(lines, out: pathlib.Path = OUT):
    rows = [r | {"success": drag_success(r)} for r in load_rows("steps", out)]
    if not rows:
        return
    n = len({r["scene"] for r in rows})
    lines += ["## Drag: steps below t0, up to the paper's 120", "",
              f"The first {n} drag scenes again, SDE-Drag and ODE-Drag at {', '.join(map(str, STEPS_SWEEP))} steps "
              "below t0 per sub-step (the rest as above). The paper ran 120.", "",
              "| steps | method | success (%) | dist (px) | IoU | copy left (%) | hole err | outside err | lost (%) "
              "| model calls | s / edit |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for steps in STEPS_SWEEP:
        for m in ("sde", "ode"):
            sel = [r for r in rows if r["method"] == m and r["setting"]["steps"] == steps]
            c = {k: bootstrap([r[k] for r in sel]) for k in
                 ("success", "dist", "iou", "copy_left", "hole_err", "outside_err", "lost", "calls", "seconds")}
            lines.append(f"| {steps} | {DRAG_METHODS[m]} | {fmt(c['success'], pct=True)} | {fmt(c['dist'], 1)} | "
                         f"{fmt(c['iou'])} | {fmt(c['copy_left'], pct=True)} | {fmt(c['hole_err'], 3)} | "
                         f"{fmt(c['outside_err'], 3)} | {fmt(c['lost'], pct=True)} | {c['calls'][0]:.0f} | "
                         f"{c['seconds'][0]:.1f} |")
    lines += ["", "Paired SDE − ODE at each step count:", "", "| steps | success | IoU | outside err |",
              "|---|---|---|---|"]
    for steps in STEPS_SWEEP:
        sel = [r for r in rows if r["setting"]["steps"] == steps]
        cells = [f"{fmt(ci, digits)} ({_verdict(ci, better)})" for key, better, digits in
                 (("success", "higher", 2), ("iou", "higher", 2), ("outside_err", "lower", 3))
                 for ci in [paired(sel, "sde", "ode", key)]]
        lines.append(f"| {steps} | " + " | ".join(cells) + " |")
    lines.append("")


def diffedit_section(lines, plt, out: pathlib.Path = OUT):
    rows = load_rows("diffedit", out)
    if not rows:
        return
    n = len({r["scene"] for r in rows})
    d = DEFAULTS["diffedit"]
    lines += ["## DiffEdit masks", "",
              f"{n} single-object scenes; target prompt = the object recoloured (\"red disc\" → \"blue disc\"), "
              "reference = the source class or the empty (null) prompt. IoU of the thresholded map with the "
              "object's true mask; "
              f"*post*: the map smoothed (3×3 box), renormalised, thresholded and its holes filled (SHAPES.md's fix "
              f"for rim-only maps; not in the node yet). Defaults: CFG {d['cfg']}, {d['noises']} noises at strength "
              f"{d['noise_strength']}, clamp {d['clamp_factor']}.", "",
              "| reference | IoU at 0.5 | IoU at 0.5, post | best threshold (raw) | IoU there | best threshold (post) "
              "| IoU there | model calls | s / mask |",
              "|---|---|---|---|---|---|---|---|---|"]
    for ref in ("source", "empty"):
        sel = [r for r in rows if r["reference"] == ref and r["noises"] == d["noises"]
               and r["noise_strength"] == d["noise_strength"]]
        best = max(THRESHOLDS, key=lambda t: np.mean([r[f"iou@{t}"] for r in sel]))
        best_post = max(THRESHOLDS, key=lambda t: np.mean([r[f"iou_post@{t}"] for r in sel]))
        lines.append(f"| {ref} | {fmt(bootstrap([r['iou@0.5'] for r in sel]))} | "
                     f"{fmt(bootstrap([r['iou_post@0.5'] for r in sel]))} | {best} | "
                     f"{fmt(bootstrap([r[f'iou@{best}'] for r in sel]))} | {best_post} | "
                     f"{fmt(bootstrap([r[f'iou_post@{best_post}'] for r in sel]))} | "
                     f"{np.mean([r['calls'] for r in sel]):.0f} | "
                     f"{np.mean([r['seconds'] for r in sel]):.2f} |")
    lines += ["", "![DiffEdit IoU against threshold, noise strength and number of noises](shapes_bench/diffedit.png)",
              "",
              "Examples (input | true mask | soft map | mask at 0.5 | post-processed mask):", "",
              "![DiffEdit examples](shapes_bench/diffedit_examples.png)", ""]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ref in ("source", "empty"):
        base = [r for r in rows if r["reference"] == ref and r["noises"] == d["noises"]
                and r["noise_strength"] == d["noise_strength"]]
        for post in (False, True):
            key = "iou_post@" if post else "iou@"
            stats = [bootstrap([r[f"{key}{t}"] for r in base]) for t in THRESHOLDS]
            axes[0].errorbar(THRESHOLDS, [s[0] for s in stats], yerr=_yerr(stats), marker="o", capsize=2,
                             label=f"{ref}{' post' if post else ''}")
        noises = sorted({r["noises"] for r in rows})
        for ax, param, values in ((axes[1], "noise_strength", STRENGTHS), (axes[2], "noises", noises)):
            fixed = {"noise_strength": d["noise_strength"], "noises": d["noises"]}
            fixed.pop(param)
            stats = []
            for v in values:
                sel = [r for r in rows
                       if r["reference"] == ref and r[param] == v and all(r[k] == w for k, w in fixed.items())]
                stats.append(bootstrap([r["iou@0.5"] for r in sel]))
            ax.errorbar(values, [s[0] for s in stats], yerr=_yerr(stats), marker="o", capsize=2, label=ref)
            ax.set_xlabel(param)
            ax.set_ylabel("IoU at 0.5")
    axes[0].set_xlabel("threshold")
    axes[0].set_ylabel("IoU")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "diffedit.png", dpi=90)
    plt.close(fig)


def semantic_section(lines, out: pathlib.Path = OUT):
    rows = [r | {"success": edit_success(r)} for r in load_rows("semantic", out)]
    if not rows:
        return
    n = len({r["scene"] for r in rows})
    s = DEFAULTS["semantic"]
    lines += ["## Prompt changes (recolour, reshape)", "",
              f"{n} single-object scenes, each edited twice: recolour to another palette colour and reshape (disc ↔ "
              f"square), by the class prompts. t0 {s['t0']}, {s['steps']} steps, CFG {s['cfg']} on both sides; the "
              "masks are DiffEdit's (defaults above, reference = the source class). Against the exact edited scene: "
              "*class ok* the dominant object has the requested colour (and, for reshape, kind); *shift* px from the "
              "object's centre to the requested colour's largest region; *bg err* mean |output − answer| farther "
              "than 2 px from the object; *success* the requested class within "
              f"{IN_PLACE_PX:.0f} px of the object's place.", ""]
    for edit in ("recolour", "reshape"):
        lines += [f"### {edit}", "",
                  "| method | success (%) | class ok (%) | colour ok (%) | kind ok (%) | shift (px) | bg err "
                  "| model calls | s / edit |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for m, label in EDIT_METHODS.items():
            c = {k: bootstrap(_col(rows, k, method=m, edit=edit)) for k in
                 ("success", "class_ok", "colour_ok", "kind_ok", "shift", "bg_err", "calls", "seconds")}
            lines.append(f"| {label} | {fmt(c['success'], pct=True)} | {fmt(c['class_ok'], pct=True)} | "
                         f"{fmt(c['colour_ok'], pct=True)} | "
                         f"{fmt(c['kind_ok'], pct=True)} | {fmt(c['shift'], 1)} | {fmt(c['bg_err'], 4)} | "
                         f"{c['calls'][0]:.0f} | {c['seconds'][0]:.1f} |")
        lines += ["", "The paper's claim, the SDE variant beats its ODE baseline (paired differences over scenes):", "",
                  "| pair | metric | SDE − ODE | SDE better? |", "|---|---|---|---|"]
        for a, b in (("cycle_sde", "ddim"), ("diffedit_sde", "diffedit_ode")):
            for key, better, digits in (("success", "higher", 2), ("class_ok", "higher", 2), ("bg_err", "lower", 4),
                                        ("shift", "lower", 1)):
                ci = paired(rows, a, b, key, edit=edit)
                lines.append(f"| {EDIT_METHODS[a]} vs {EDIT_METHODS[b]} | {key} | {fmt(ci, digits)} (n = {ci[3]}) | "
                             f"{_verdict(ci, better)} |")
        lines.append("")
    lines += ["Examples (input | answer | Cycle-SDE | DiffEdit-SDE | DDIM | DiffEdit-ODE | sync-SDE; per scene a "
              "recolour row, then a reshape row):", "",
              "![prompt-change examples](shapes_bench/semantic_examples.png)", ""]


def write_report(out: pathlib.Path = OUT, report: pathlib.Path = REPORT) -> str:
    """Write the report (plots into `out`, linked relative to the report) and return its text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# Ground-truth benchmarks in the shapes world", "",
             "Generated by `python scripts/bench_shapes.py report` from the rows in `docs/shapes_bench/*.json` "
             "(`python scripts/bench_shapes.py run TASK --scenes N` writes them). The pack's conditional shapes "
             "model (`nodes/shapes_weights/shapes_cond_32`, 32 px, docs/shapes_training.md), called through the "
             "pack's own nodes in an in-process ComfyUI; every edit scored against the exact edited scene "
             "(`sampling/shapes_metrics.py`). Numbers: mean over scenes [95 % percentile bootstrap interval]; "
             "model calls = forward passes of the model (a pass may carry several rows).", ""]
    drag_section(lines, plt, out)
    sweeps_section(lines, plt, out)
    steps_section(lines, out)
    diffedit_section(lines, plt, out)
    semantic_section(lines, out)
    text = "\n".join(lines) + "\n"
    rel = os.path.relpath(out.resolve(), report.resolve().parent)
    text = text.replace("(shapes_bench/", "(" if rel == "." else f"({rel}/")
    report.write_text(text)
    print(f"wrote {report}")
    return text
