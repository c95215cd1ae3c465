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

from bench.shapes_config import DEFAULTS, OUT, REPORT, STEPS_SWEEP, SWEEPS
from bench.shapes_report_diffedit import diffedit_section
from bench.shapes_report_lora import load_lora, lora_section
from bench.stats import bootstrap, fmt, paired, yerr

DRAG_METHODS = {
    "copy_paste": "copy-paste, no resampling (floor)",
    "ode": "ODE-Drag",
    "ode_paper": "ODE-Drag, authors' grid",
    "sde_paper": "SDE-Drag, paper (authors' grid, recorded noise)",
    "sde": "SDE-Drag, scheduler grid, recorded noise",
    "sde_fresh": "SDE-Drag, fresh noise in S ∪ T",
    "sde_paper_fresh": "SDE-Drag, authors' grid, fresh noise in S ∪ T",
    "sde_vacated": "SDE-Drag, fresh noise in S ∖ T",
    "sde_moved": "SDE-Drag, residual moved with the drag",
    "sde_paper_moved": "SDE-Drag, authors' grid, residual moved",
}
EDIT_METHODS = {"cycle_sde": "Cycle-SDE", "diffedit_sde": "DiffEdit-SDE (Cycle-SDE + mask)", "ddim": "DDIM inversion",
                "diffedit_ode": "DiffEdit-ODE (DDIM + mask)", "sync_sde": "sync-SDE (Euler–Maruyama)",
                "ddpm": "DDPM (SDEdit: noise-adding + fresh noise)",
                "masked_cycle_sde": "Cycle-SDE in the object's mask, negative = source"}
SDE_VS_ODE = (("sde_paper", "ode_paper"), ("sde", "ode"), ("sde_fresh", "ode"), ("sde_vacated", "ode"),
              ("sde_moved", "ode"), ("sde_paper_moved", "ode_paper"), ("sde_moved", "sde_paper"),
              ("sde_paper_moved", "sde_paper"))


def load_rows(task: str, out: pathlib.Path = OUT) -> list[dict]:
    path = out / f"{task}.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def _col(rows, key, **match):
    return [r[key] for r in rows if all(r.get(k) == v for k, v in match.items())]


IN_PLACE_PX = 3.0  # a prompt change succeeds: the requested class within 3 px of where the object was


def edit_success(r: dict) -> float:
    return float(r["class_ok"] == 1 and not math.isnan(r["shift"]) and r["shift"] <= IN_PLACE_PX)


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


def _placement(rows) -> float:
    """Median px from the target over the drags that are not catastrophic (nan when none)."""
    v = [r["dist"] for r in rows if r["catastrophic"] == 0]
    return float(np.median(v)) if v else math.nan


DRAG_COLUMNS = (("err", 4), ("realism", 4), ("catastrophic", "%"), ("dist", 1), ("hole_err", 3),
                ("outside_err", 4), ("copy_left", "%"))
DRAG_CLAIMS = (("err", "lower", 4), ("realism", "lower", 4), ("catastrophic", "lower", 2), ("dist", "lower", 2),
               ("outside_err", "lower", 4), ("hole_err", "lower", 3))


def _drag_table(lines, rows, methods):
    lines += ["| method | whole-image err | realism | catastrophic (%) | dist (px) | median dist, not catastrophic "
              "| hole err | outside err | copy left (%) | model calls | s / edit |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in methods:
        sel = [r for r in rows if r["method"] == m]
        if not sel:
            continue
        cells = []
        for key, digits in DRAG_COLUMNS:
            ci = bootstrap([r[key] for r in sel])
            cells.append(fmt(ci, pct=True) if digits == "%" else fmt(ci, digits))
        cost = {k: np.mean([r[k] for r in sel]) for k in ("calls", "seconds")}
        cells[4:4] = [f"{_placement(sel):.1f}"]
        lines.append(f"| {DRAG_METHODS[m]} | " + " | ".join(cells) + f" | {cost['calls']:.0f} | "
                     f"{cost['seconds']:.1f} |")


def _claims(lines, rows, pairs, claims, **match):
    lines += ["| SDE variant vs ODE baseline | metric | SDE − ODE | SDE better? |", "|---|---|---|---|"]
    for a, b in pairs:
        if not any(r["method"] == a for r in rows) or not any(r["method"] == b for r in rows):
            continue
        for key, better, digits in claims:
            ci = paired(rows, a, b, key, **match)
            lines.append(f"| {DRAG_METHODS.get(a, a)} vs {DRAG_METHODS.get(b, b)} | {key} | {fmt(ci, digits)} "
                         f"(n = {ci[3]}) | {_verdict(ci, better)} |")


def drag_section(lines, plt, out: pathlib.Path = OUT):
    rows = load_rows("drag", out) + load_rows("drag_masked", out)
    if not rows:
        return
    meta = _meta("drag", out)
    n = len({r["scene"] for r in rows})
    s = DEFAULTS["drag"]
    split = rows[0].get("split", "tuning")
    lines += [
        "## Drag", "",
        f"{n} scenes ({split} split, scene seed {meta.get('scene_seeds', ['?'])[0]}: no setting was chosen on them), "
        "one object each (any kind and colour, radius 0.12–0.18 of the side), its centre dragged 0.1–0.6 of the side "
        f"in a random direction. t0 {s['t0']}, {s['steps']} steps below t0 per sub-step, step {s['step_size']} px, "
        f"α {s['alpha']}, β {s['beta']}, CFG {s['cfg']} falling to 1, r = the object's radius + 2 px, prompt = the "
        "object's class. The floor is Eq. 12 on the clean image with no resampling. Against the exact moved scene:",
        "",
        "- *whole-image err*: mean |output − answer| over all pixels (0..1 RGB), the headline;",
        "- *realism*: mean |output − the best-fitting in-world scene| (gradient + one object fitted by least "
        "squares, `shapes/fit.py`): grain, rings, ghosts and seams count, a small misplacement does not "
        "(a clean render scores ≤ 0.0005; a faint ghost 0.005–0.02);",
        "- *catastrophic*: the object lost, its colour wrong, or > 5 px from the target;",
        "- *dist*: px from the target to the object's colour region (mean over drags where it is found), and the "
        "median over the non-catastrophic ones (placement error);",
        "- *hole err* / *outside err*: mean |output − answer| over the vacated area / farther than 2 px from both "
        "object positions; *copy left*: > 30 % of the vacated area still in the object's colour.",
        "",
    ]
    for masked, title in ((False, "Unmasked (everything may change)"),
                          (True, "Masked (as DragBench: the union of the two squares, dilated 2 px)")):
        sel = [r for r in rows if bool(r.get("masked")) == masked]
        if not sel:
            continue
        lines += [f"### {title}", ""]
        _drag_table(lines, sel, DRAG_METHODS)
        lines += ["", "The paper's claim, SDE-Drag beats ODE-Drag, as paired differences over scenes:", ""]
        _claims(lines, sel, SDE_VS_ODE, DRAG_CLAIMS, masked=masked)
        lines.append("")
    lines += [f"Machine: {meta['machine']}; {meta['threads']} torch thread; run time {meta['seconds'] / 60:.0f} min.",
              "", "![drag metrics against the drag's length](shapes_bench/drag_by_length.png)", "",
              "Examples (input | answer | " + " | ".join(  # the grid's columns: the run's order of methods
                  DRAG_METHODS[r["method"]] for r in rows if r["scene"] == rows[0]["scene"] and not r.get("masked"))
              + "):", "",
              "![drag examples](shapes_bench/drag_examples.png)", ""]
    bins = np.array([3, 7, 11, 15, 20])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for m, label in DRAG_METHODS.items():
        for ax, key in zip(axes, ("err", "realism", "dist"), strict=True):
            xs, ys, lo, hi = [], [], [], []
            for a, b in zip(bins[:-1], bins[1:], strict=True):
                vals = [r[key] for r in rows if r["method"] == m and not r.get("masked") and a <= r["drag_px"] < b]
                if vals:
                    mean, low, high = bootstrap(vals)
                    xs.append((a + b) / 2), ys.append(mean), lo.append(mean - low), hi.append(high - mean)
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label)
            ax.set_xlabel("drag length (px of 32)")
            ax.set_title(key)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "drag_by_length.png", dpi=90)
    plt.close(fig)


def sweeps_section(lines, plt, out: pathlib.Path = OUT):
    rows = load_rows("sweeps", out)
    if not rows:
        return
    n = len({r["scene"] for r in rows})
    methods = [m for m in DRAG_METHODS if any(r["method"] == m for r in rows)]
    lines += ["## Drag: sensitivity (tuning scenes)", "",
              f"The paper's sweeps (t0, α, β, step size) on {n} tuning scenes, one setting changed at a time from "
              "the defaults above. Mean and 95 % bootstrap interval over scenes.", "",
              "![sweeps](shapes_bench/sweeps.png)", ""]
    keys = ("err", "realism", "catastrophic")
    fig, axes = plt.subplots(len(keys), len(SWEEPS), figsize=(13, 8))
    for j, (param, values) in enumerate(SWEEPS.items()):
        for method in methods:
            sel = [r for r in rows if r["method"] == method and param in r["setting"]]
            if not sel:
                continue
            for i, key in enumerate(keys):
                stats = [bootstrap([r[key] for r in sel if r["setting"][param] == v]) for v in values]
                axes[i, j].errorbar(values, [s[0] for s in stats], yerr=yerr(stats), marker="o", capsize=3,
                                    label=DRAG_METHODS[method])
                axes[i, j].set_xlabel(param)
                axes[i, j].set_ylabel(key)
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "sweeps.png", dpi=80)
    plt.close(fig)
    lines += ["| setting | " + " | ".join(f"{DRAG_METHODS[m]} err" for m in methods) + " |",
              "|---|" + "---|" * len(methods)]
    for param, values in SWEEPS.items():
        for v in values:
            cells = []
            for method in methods:
                sel = [r["err"] for r in rows if r["method"] == method and r["setting"].get(param) == v]
                cells.append(fmt(bootstrap(sel), 4) if sel else "–")
            lines.append(f"| {param} = {v} | " + " | ".join(cells) + " |")
    lines.append("")


def steps_section(lines, out: pathlib.Path = OUT):
    rows = load_rows("steps", out)
    if not rows:
        return
    n = len({r["scene"] for r in rows})
    lines += ["## Drag: steps below t0, up to the paper's 120 (tuning scenes)", "",
              f"{n} tuning scenes at {', '.join(map(str, STEPS_SWEEP))} steps below t0 per sub-step (the rest as "
              "above). The paper ran 120.", ""]
    for steps in STEPS_SWEEP:
        sel = [r for r in rows if r["setting"]["steps"] == steps]
        lines += [f"### {steps} steps", ""]
        _drag_table(lines, sel, [m for m in DRAG_METHODS if any(r["method"] == m for r in sel)])
        lines.append("")
        _claims(lines, sel, SDE_VS_ODE, DRAG_CLAIMS[:3])
        lines.append("")


SEMANTIC_COLUMNS = (("success", "%"), ("colour_ok", "%"), ("kind_ok", "%"), ("shift", 1), ("err", 4),
                    ("realism", 4), ("bg_err", 4))
SEMANTIC_PAIRS = (("cycle_sde", "ddim"), ("diffedit_sde", "diffedit_ode"), ("sync_sde", "ddim"), ("ddpm", "ddim"),
                  ("masked_cycle_sde", "diffedit_ode"))
SEMANTIC_CLAIMS = (("success", "higher", 2), ("err", "lower", 4), ("realism", "lower", 4), ("bg_err", "lower", 4),
                   ("shift", "lower", 1))


def _semantic_table(lines, rows):
    lines += ["| method | success (%) | colour ok (%) | kind ok (%) | shift (px) | whole-image err | realism | bg err "
              "| model calls | s / edit |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m, label in EDIT_METHODS.items():
        sel = [r for r in rows if r["method"] == m]
        if not sel:
            continue
        cells = [fmt(bootstrap([r[k] for r in sel]), pct=True) if d == "%" else fmt(bootstrap([r[k] for r in sel]), d)
                 for k, d in SEMANTIC_COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {np.mean([r['calls'] for r in sel]):.0f} | "
                     f"{np.mean([r['seconds'] for r in sel]):.1f} |")


def _semantic_claims(lines, rows):
    lines += ["| pair | metric | SDE − ODE | SDE better? |", "|---|---|---|---|"]
    for a, b in SEMANTIC_PAIRS:
        for key, better, digits in SEMANTIC_CLAIMS:
            ci = paired(rows, a, b, key)
            lines.append(f"| {EDIT_METHODS[a]} vs {EDIT_METHODS[b]} | {key} | {fmt(ci, digits)} (n = {ci[3]}) | "
                         f"{_verdict(ci, better)} |")


def semantic_section(lines, out: pathlib.Path = OUT):
    rows = [r | {"success": edit_success(r)} for r in load_rows("semantic", out)]
    if rows:
        n = len({r["scene"] for r in rows})
        s = DEFAULTS["semantic"]
        lines += ["## Prompt changes (recolour, reshape)", "",
                  f"{n} single-object scenes ({rows[0].get('split', 'tuning')} split), each edited twice: recolour "
                  f"to another palette colour and reshape (disc ↔ square), by the class prompts. t0 {s['t0']}, "
                  f"{s['steps']} steps, CFG {s['cfg']} on both sides; the masks are DiffEdit's (defaults above, "
                  "reference = the source class). Against the exact edited scene: *colour / kind ok* the dominant "
                  "object has the requested colour / kind; *shift* px from the object's centre to the requested "
                  "colour's largest region; *whole-image err*, *realism* as for the drag; *bg err* mean |output − "
                  "answer| farther than 2 px from the object; *success* the requested class within "
                  f"{IN_PLACE_PX:.0f} px of the object's place.", ""]
        for edit in ("recolour", "reshape"):
            sel = [r for r in rows if r["edit"] == edit]
            lines += [f"### {edit}", ""]
            _semantic_table(lines, sel)
            lines += ["", "The paper's claim, the SDE variant beats its ODE baseline (paired differences over "
                      "scenes):", ""]
            _semantic_claims(lines, sel)
            lines.append("")
        first = [r["method"] for r in rows if r["scene"] == rows[0]["scene"] and r["edit"] == rows[0]["edit"]]
        lines += ["Examples (input | answer | " + " | ".join(EDIT_METHODS[m] for m in first) + "; per scene a recolour "
                  "row, then a reshape row):", "", "![prompt-change examples](shapes_bench/semantic_examples.png)", ""]
    rows = [r | {"success": edit_success(r)} for r in load_rows("semantic_t0", out)]
    if rows:
        n = len({r["scene"] for r in rows})
        methods = [m for m in EDIT_METHODS if any(r["method"] == m for r in rows)]
        lines += ["## Recolour: t0 sweep (tuning scenes)", "",
                  f"{n} tuning scenes, the recolour at each t0 (the rest as above): where each method works.", "",
                  "| t0 | " + " | ".join(f"{EDIT_METHODS[m]}: success (%) / err" for m in methods) + " |",
                  "|---|" + "---|" * len(methods)]
        for t0 in sorted({r["t0"] for r in rows}):
            cells = []
            for m in methods:
                sel = [r for r in rows if r["t0"] == t0 and r["method"] == m]
                cells.append(f"{fmt(bootstrap([r['success'] for r in sel]), pct=True)} / "
                             f"{fmt(bootstrap([r['err'] for r in sel]), 4)}" if sel else "–")
            lines.append(f"| {t0} | " + " | ".join(cells) + " |")
        lines.append("")


SYNC_METHODS = {"sync_sde": "sync-SDE (both sides CFG 7.5)", "sync_sde_resample": "… resample",
                "sync_sde_masked": "… mask (object grown 2 px)", "sync_sde_target_cfg_only": "… source CFG 1 (3B rows)"}


def sync_section(lines, out: pathlib.Path = OUT):
    rows = [r | {"success": edit_success(r)} for r in load_rows("sync", out)]
    if not rows:
        return
    n, s = len({r["scene"] for r in rows}), DEFAULTS["semantic"]
    lines += ["## sync-SDE's options", "",
              f"{n} single-object scenes ({rows[0].get('split', 'tuning')} split), the prompt changes above (t0 "
              f"{s['t0']}, {s['steps']} steps, Euler–Maruyama, CFG {s['cfg']} against the null prompt), sync-SDE with "
              "each of its options; the metrics as above, and the paired difference of each option against plain "
              "sync-SDE.", ""]
    for edit in ("recolour", "reshape"):
        sel = [r for r in rows if r["edit"] == edit]
        lines += [f"### {edit}", "", "| method | success (%) | whole-image err | realism | bg err | model calls | "
                  "rows | paired Δ success | paired Δ err | paired Δ bg err |", "|---" * 10 + "|"]
        for m, label in SYNC_METHODS.items():
            sm = [r for r in sel if r["method"] == m]
            if not sm:
                continue
            deltas = ["–"] * 3 if m == "sync_sde" else [
                fmt(paired(sel, m, "sync_sde", k), d) for k, d in (("success", 2), ("err", 4), ("bg_err", 4))]
            cells = [fmt(bootstrap([r["success"] for r in sm]), pct=True),
                     *(fmt(bootstrap([r[k] for r in sm]), 4) for k in ("err", "realism", "bg_err")),
                     f"{np.mean([r['calls'] for r in sm]):.0f}", f"{np.mean([r['rows'] for r in sm]):.0f}", *deltas]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Examples (input | answer | " + " | ".join(SYNC_METHODS.values()) + "):", "",
              "![sync-SDE options](shapes_bench/sync_examples.png)", ""]


def write_report(out: pathlib.Path = OUT, report: pathlib.Path = REPORT) -> str:
    """Write the report (plots into `out`, linked relative to the report) and return its text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# Ground-truth benchmarks in the shapes world", "",
             "Generated by `python scripts/bench_shapes.py report` from the rows in `docs/shapes_bench/*.json` "
             "(`python scripts/bench_shapes.py run TASK --scenes N` writes them). The pack's conditional shapes "
             "model (`shapes/weights/shapes_cond_32`, 32 px, docs/shapes_training.md), called through the "
             "pack's own nodes in an in-process ComfyUI; every edit scored against the exact edited scene "
             "(`shapes/metrics.py`). Numbers: mean over scenes [95 % percentile bootstrap interval]; "
             "model calls = forward passes of the model (a pass may carry several rows).", ""]
    drag_section(lines, plt, out)
    sweeps_section(lines, plt, out)
    steps_section(lines, out)
    lora_section(lines, *load_lora(out))
    diffedit_section(lines, plt, load_rows("diffedit", out), load_rows("diffedit_tuning", out), out)
    semantic_section(lines, out)
    sync_section(lines, out)
    text = "\n".join(lines) + "\n"
    rel = os.path.relpath(out.resolve(), report.resolve().parent)
    text = text.replace("(shapes_bench/", "(" if rel == "." else f"({rel}/")
    report.write_text(text)
    print(f"wrote {report}")
    return text
