"""The shapes benchmarks' section on the input image's LoRA (task drag_lora): SDE-Drag and ODE-Drag without and
with a LoRA trained on each scene (SDEEditTrainImageLoRA, the authors' settings), against the exact moved scene,
as paired per-scene differences LoRA − no LoRA; the training time and the LoRA's forward-time overhead."""

from __future__ import annotations

import math
import pathlib

import numpy as np

from bench.shapes_config import DEFAULTS, LORA_DRAGS, OUT
from bench.stats import bootstrap, fmt

LABELS = {"copy_paste": "copy-paste, no resampling (floor)", "sde_moved": "SDE-Drag (node defaults)",
          "sde_moved_lora": "SDE-Drag + LoRA", "ode": "ODE-Drag (node defaults)", "ode_lora": "ODE-Drag + LoRA"}
NAMES = {"sde_moved": "SDE-Drag", "ode": "ODE-Drag"}


def _col(rows: list[dict], method: str, key: str) -> list[float]:
    return [r[key] for r in rows if r["method"] == method and not math.isnan(r[key])]


def _table(lines: list[str], rows: list[dict]) -> None:
    from bench.shapes_report import DRAG_COLUMNS, _placement

    lines += ["| method | whole-image err | realism | catastrophic (%) | dist (px) | median dist, not catastrophic "
              "| hole err | outside err | copy left (%) | model calls | s / edit |", "|---" * 11 + "|"]
    for m, label in LABELS.items():
        sel = [r for r in rows if r["method"] == m]
        if not sel:
            continue
        cells = [fmt(bootstrap([r[k] for r in sel]), pct=True) if d == "%" else fmt(bootstrap([r[k] for r in sel]), d)
                 for k, d in DRAG_COLUMNS]
        median = _placement(sel)
        cells[4:4] = ["–" if math.isnan(median) else f"{median:.1f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {np.mean([r['calls'] for r in sel]):.0f} | "
                     f"{np.mean([r['seconds'] for r in sel]):.1f} |")


def _paired(lines: list[str], rows: list[dict]) -> dict:
    """The table of LoRA − no LoRA per drag and metric; {drag: (metrics better, metrics worse)} with LoRA."""
    from bench.shapes_report import DRAG_CLAIMS, _verdict
    from bench.stats import paired

    lines += ["| drag | metric | LoRA − no LoRA | LoRA better? |", "|---|---|---|---|"]
    found = {}
    for base in LORA_DRAGS:
        if not any(r["method"] == f"{base}_lora" for r in rows):
            continue
        better, worse = [], []
        for key, direction, digits in DRAG_CLAIMS:
            ci = paired(rows, f"{base}_lora", base, key)
            verdict = _verdict(ci, direction)
            (better if verdict == "**yes**" else worse if verdict.startswith("**no") else []).append(key)
            lines.append(f"| {NAMES[base]} | {key} | {fmt(ci, digits)} (n = {ci[3]}) | {verdict} |")
        found[base] = (better, worse)
    return found


def _cost(lines: list[str], rows: list[dict]) -> None:
    first = {r["scene"]: r for r in rows}.values()  # the training columns repeat on each row of a scene
    seconds = fmt(bootstrap([r["lora_seconds"] for r in first]), 1)
    lines += [f"Training (once per scene, before the drags): {seconds} s, "
              f"{np.mean([r['lora_calls'] for r in first]):.0f} model calls, final loss (mean of the last 10 steps) "
              f"{fmt(bootstrap([r['lora_loss'] for r in first]), 4)}.", "",
              "| drag | model calls without / with LoRA | scenes with equal calls and rows | s without | s with | "
              "time ratio with / without (per scene) |", "|---|---|---|---|---|---|"]
    for base in LORA_DRAGS:
        pairs = [(r, w) for s, r in {r["scene"]: r for r in rows if r["method"] == base}.items()
                 for w in [x for x in rows if x["scene"] == s and x["method"] == f"{base}_lora"]]
        if not pairs:
            continue
        equal = sum(r["calls"] == w["calls"] and r["rows"] == w["rows"] for r, w in pairs)
        ratio = bootstrap([w["seconds"] / r["seconds"] for r, w in pairs])
        mean = {k: (np.mean([r[k] for r, _ in pairs]), np.mean([w[k] for _, w in pairs])) for k in ("calls", "seconds")}
        lines.append(f"| {NAMES[base]} | {mean['calls'][0]:.1f} / {mean['calls'][1]:.1f} | {equal} of {len(pairs)} | "
                     f"{mean['seconds'][0]:.2f} | {mean['seconds'][1]:.2f} | {fmt(ratio, 2)} |")


def _reading(rows: list[dict], found: dict) -> list[str]:
    parts = []
    for base, (better, worse) in found.items():
        said = [f"better on {', '.join(better)}" if better else "", f"worse on {', '.join(worse)}" if worse else ""]
        said = " and ".join(p for p in said if p) or "no metric resolved either way"
        rel = {k: np.mean(_col(rows, f"{base}_lora", k)) / np.mean(_col(rows, base, k)) - 1
               for k in ("err", "realism", "outside_err")}
        change = ", ".join(f"{k} {100 * v:+.0f} %" for k, v in rel.items())
        parts.append(f"{NAMES[base]} with the LoRA: {said} (means {change})")
    helps = any(b for b, _ in found.values())
    hurts = any(w for _, w in found.values())
    overall = ("It helps on some metrics and hurts on none." if helps and not hurts else
               "It hurts on some metrics and helps on none." if hurts and not helps else
               "It helps on some metrics and hurts on others." if helps else
               "It makes no difference this benchmark resolves: it does not help here.")
    from bench.shapes_report import DRAG_CLAIMS

    open_ = [k for k, _, _ in DRAG_CLAIMS if not any(k in b + w for b, w in found.values())]
    if open_:
        overall += f" Unresolved for both drags: {', '.join(open_)}."
    return [f"**Does the LoRA help here?** {'; '.join(parts)} (paired 95 % intervals excluding 0). {overall}"]


def lora_section(lines: list[str], rows: list[dict], meta: dict | None) -> None:
    if not rows:
        return
    n, s = len({r["scene"] for r in rows}), DEFAULTS["drag"]
    t = (meta or {}).get("lora") or {}
    lines += ["## Drag with a LoRA of the input image", "",
              f"{n} scenes ({rows[0].get('split', '?')} split, scene seed "
              f"{(meta or {}).get('scene_seeds', ['?'])[0]}: the Drag section's sequence of scenes, drags and "
              f"seeds, no setting chosen on them), the drag's settings as there (t0 {s['t0']}, {s['steps']} steps, "
              f"CFG {s['cfg']}) at the node's defaults: scheduler grid, for SDE-Drag the residual moved with the drag "
              "(*SDE-Drag, residual moved* above). Per scene a LoRA is trained once with Train Image LoRA at the "
              f"SDE-Drag authors' settings ({t.get('steps', '?')} steps, rank {t.get('rank', '?')}, lr "
              f"{t.get('learning_rate', '?')}, {t.get('training_dtype', '?')}, the scene's class prompt, seed = the "
              "scene's index), then each drag runs without it and with it at the paper's falling strength (1 near "
              f"the clean image down to lora_min {t.get('lora_min', '?')} at t0, cosine), with the same seed; the "
              "floor never uses it. Metrics as in the Drag section.", ""]
    _table(lines, rows)
    lines += ["", "Paired per-scene differences (LoRA − no LoRA, same scene and seed):", ""]
    found = _paired(lines, rows)
    lines.append("")
    _cost(lines, rows)
    lines += ["", *_reading(rows, found), ""]
    if meta:
        lines += [f"Machine: {meta['machine']}; {meta['threads']} torch thread; run time "
                  f"{meta['seconds'] / 60:.0f} min.", ""]
    first = [LABELS[r["method"]] for r in rows if r["scene"] == rows[0]["scene"]]
    lines += ["Examples (input | answer | " + " | ".join(first) + "):", "",
              "![drag with LoRA examples](shapes_bench/drag_lora_examples.png)", ""]


def load_lora(out: pathlib.Path = OUT) -> tuple[list[dict], dict | None]:
    import json

    path = out / "drag_lora.json"
    if not path.exists():
        return [], None
    data = json.loads(path.read_text())
    return data["rows"], data["meta"]
