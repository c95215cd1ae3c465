"""The shapes benchmarks' DiffEdit section: mask IoU against the object's true mask, for the reference pipeline's
raw map and the node's map steps (smoothing, fill_holes), at every threshold.

The recommended setting (map steps and threshold) is chosen on the tuning scenes (`diffedit_tuning.json`,
`run diffedit --split tuning --name diffedit_tuning`) and reported on the held-out scenes (`diffedit.json`).
"""

from __future__ import annotations

import pathlib

import numpy as np

from bench.shapes_config import DEFAULTS, DIFFEDIT_VARIANTS, OUT, STRENGTHS, THRESHOLDS
from bench.stats import bootstrap, fmt, yerr

REFERENCES = ("source", "empty")


def _at_defaults(rows: list[dict], reference: str, variant: str) -> list[dict]:
    d = DEFAULTS["diffedit"]
    return [r for r in rows if r["reference"] == reference and r.get("variant", "raw") == variant
            and r["noises"] == d["noises"] and r["noise_strength"] == d["noise_strength"]]


def _mean_iou(rows: list[dict], thr: float) -> float:
    return float(np.mean([r[f"iou@{thr}"] for r in rows])) if rows else float("nan")


def recommended(tuning: list[dict], reference: str) -> tuple[str, float] | None:
    """(variant, threshold) with the best mean IoU on the tuning scenes, or None without tuning rows."""
    cands = [(v, t) for v in DIFFEDIT_VARIANTS for t in THRESHOLDS if _at_defaults(tuning, reference, v)]
    return max(cands, key=lambda vt: _mean_iou(_at_defaults(tuning, reference, vt[0]), vt[1])) if cands else None


def _gain(rows: list[dict], reference: str, pick: tuple[str, float], raw_threshold: float) -> str:
    """The per-scene IoU difference (recommended − raw at `raw_threshold`), bootstrapped over scenes."""
    raw = {r["scene"]: r[f"iou@{raw_threshold}"] for r in _at_defaults(rows, reference, "raw")}
    diffs = [r[f"iou@{pick[1]}"] - raw[r["scene"]] for r in _at_defaults(rows, reference, pick[0]) if r["scene"] in raw]
    return f"{'+' if np.mean(diffs) >= 0 else ''}{fmt(bootstrap(diffs))}"


def diffedit_section(lines: list[str], plt, rows: list[dict], tuning: list[dict], out: pathlib.Path = OUT) -> None:
    if not rows:
        return
    n, d = len({r["scene"] for r in rows}), DEFAULTS["diffedit"]
    n_tuning = len({r["scene"] for r in tuning})
    shown = (0.5, 0.7, 0.9)
    lines += ["## DiffEdit masks", "",
              f"{n} single-object scenes ({rows[0].get('split', 'tuning')}); target prompt = the object recoloured "
              "(\"red disc\" → \"blue disc\"), reference = the source class or the empty (null) prompt. IoU of the "
              "thresholded map with the object's true mask. *raw* is the reference pipeline; the node's map steps: "
              "*smooth ρ* blurs the difference map (Gaussian, std ρ latent px) before it is normalised, *fill* "
              "raises every dip the border cannot reach to its rim's level before the threshold. Defaults: CFG "
              f"{d['cfg']}, {d['noises']} noises at strength {d['noise_strength']}, clamp {d['clamp_factor']}.", ""]
    for ref in REFERENCES:
        pick = recommended(tuning, ref)
        lines += [f"### reference: {ref}", "",
                  "| map | " + " | ".join(f"IoU at {t}" for t in shown) + " | best threshold here | IoU there |",
                  "|---|" + "---|" * (len(shown) + 2)]
        for variant in DIFFEDIT_VARIANTS:
            sel = _at_defaults(rows, ref, variant)
            if not sel:
                continue
            best = max(THRESHOLDS, key=lambda t: _mean_iou(sel, t))
            mark = " (recommended)" if pick and pick[0] == variant else ""
            lines.append(f"| {variant}{mark} | " + " | ".join(fmt(bootstrap([r[f"iou@{t}"] for r in sel]))
                                                             for t in shown)
                         + f" | {best} | {fmt(bootstrap([r[f'iou@{best}'] for r in sel]))} |")
        if pick:
            sel = _at_defaults(rows, ref, pick[0])
            lines += ["", f"Recommended, chosen on {n_tuning} tuning scenes: **{pick[0]}** at threshold **{pick[1]}** "
                          f"(tuning IoU {_mean_iou(_at_defaults(tuning, ref, pick[0]), pick[1]):.2f}); on the "
                          f"held-out scenes IoU **{fmt(bootstrap([r[f'iou@{pick[1]}'] for r in sel]))}**; paired, "
                          f"per scene: {_gain(rows, ref, pick, 0.5)} over the reference pipeline (raw at 0.5), "
                          f"{_gain(rows, ref, pick, pick[1])} over the raw map at the same threshold."]
        lines.append("")
    cost = _at_defaults(rows, "source", "raw")
    lines += [f"Cost of one mask: {np.mean([r['calls'] for r in cost]):.0f} model call, "
              f"{np.mean([r['seconds'] for r in cost]):.2f} s (the map steps add no model call).", "",
              "![DiffEdit IoU against threshold, noise strength and number of noises](shapes_bench/diffedit.png)", "",
              "Examples (input | true mask | raw soft map | raw mask at 0.5 | smooth 1 + fill map | its mask at 0.5):",
              "", "![DiffEdit examples](shapes_bench/diffedit_examples.png)", ""]
    _plot(plt, rows, out)


def _plot(plt, rows: list[dict], out: pathlib.Path) -> None:
    d = DEFAULTS["diffedit"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ref in REFERENCES:
        for variant in ("raw", "fill", "smooth 1 + fill"):
            stats = [bootstrap([r[f"iou@{t}"] for r in _at_defaults(rows, ref, variant)]) for t in THRESHOLDS]
            axes[0].errorbar(THRESHOLDS, [s[0] for s in stats], yerr=yerr(stats), marker="o", capsize=2,
                             label=f"{ref}, {variant}")
        noises = sorted({r["noises"] for r in rows})
        for ax, param, values in ((axes[1], "noise_strength", STRENGTHS), (axes[2], "noises", noises)):
            fixed = {"noise_strength": d["noise_strength"], "noises": d["noises"]}
            fixed.pop(param)
            stats = [bootstrap([r["iou@0.5"] for r in rows if r["reference"] == ref and r[param] == v
                                and r.get("variant", "raw") == "raw" and all(r[k] == w for k, w in fixed.items())])
                     for v in values]
            ax.errorbar(values, [s[0] for s in stats], yerr=yerr(stats), marker="o", capsize=2, label=ref)
            ax.set_xlabel(param)
            ax.set_ylabel("IoU at 0.5 (raw map)")
    axes[0].set_xlabel("threshold")
    axes[0].set_ylabel("IoU")
    axes[0].legend(fontsize=6)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "diffedit.png", dpi=90)
    plt.close(fig)
