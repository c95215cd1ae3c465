"""One command, the paper's settings, on a GPU: seconds per edit, model calls and peak memory (`make bench-gpu`).

Builds the full-size SD1.5 checkpoint with random weights (scripts/make_full_checkpoints.py) if it is missing,
loads ComfyUI in this process on the GPU (the model in fp16, as ComfyUI loads SD1.5 there), and times, each
after a warm-up run of the same graph:

- SDE-Drag at the paper's defaults: 512 × 512, n = 120 steps below t0 = 0.6, one drag of 10 latent px
  (m = 5 sub-steps of 2 px), CFG rising from 1 to 3, r = 5, α 1.1, β 0.3;
- ODE-Drag, the same with DDIM inversion and DDIM;
- DiffEdit-SDE: DiffEdit's mask (10 noises), Cycle-SDE Record (50 steps, t0 0.7, CFG 7.5) and Resample
  (cycle_sde, the mask);
- Inpaint-SDE: Noise-Adding Inversion (50 steps, t0 1) and Resample (ddpm, a square mask);
- stage 2 alone (Resample cycle_sde, 50 steps, CFG 7.5) against ComfyUI's KSampler (euler, 50 steps, CFG
  7.5): the time per step of our sampler against ComfyUI's own;
- KSampler at SDE-Drag's m·n = 600 steps (CFG 3): the same number of model calls, with half the rows.

It prints a table, writes docs/benchmarks_gpu.md (or --out) with the ratios to the paper's Table 7 (A100:
SDE-Drag 75.86 s, ODE-Drag 76.62 s, DiffEdit-SDE 4.82 s, Inpaint-SDE 3.06 s) and the goal (SDE-Drag ≤ 15 s on
an H100-class GPU; our stage 2 ≤ 1.05 × KSampler per step). `--smoke` runs the same code on the tiny test
checkpoint at 64 px and a few steps, on the CPU where there is no GPU: the test tier runs it, so the script
cannot rot.
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hostlib import COMFY, ROOT  # noqa: E402

PAPER_A100 = {"SDE-Drag": 75.86, "ODE-Drag": 76.62, "DiffEdit-SDE": 4.82, "Inpaint-SDE": 3.06}
GOAL_SDE_DRAG_S, GOAL_STEP_RATIO = 15.0, 1.05


@dataclass(frozen=True)
class Settings:
    checkpoint: str  # a key of hostlib.CHECKPOINTS
    size: int  # image px
    drag_steps: int  # n, steps below t0 per sub-step
    drag_latent_px: int  # the drag's length in latent px (m = length / 2)
    edit_steps: int  # DiffEdit-SDE, Inpaint-SDE and the stage-2 comparison
    rounds: int = 1  # interleaved timed rounds after the warm-up (medians and per-round ratios when > 1)


PAPER = Settings("sd15_full", 512, 120, 10, 50)
SMOKE = Settings("sd15", 64, 3, 4, 3, rounds=2)
CPU_REAL = Settings("sd15_full", 256, 4, 4, 4, rounds=3)  # the real architecture on a CPU: 256 px, a few steps


def workloads(c, s: Settings, model, pos, tgt, neg, vae) -> dict:
    """{name: (function, model-call formula)} at settings `s`, every input fixed before timing."""
    import torch

    lat = {"samples": torch.randn(1, 4, s.size // 8, s.size // 8, generator=torch.Generator().manual_seed(0))}
    mask = torch.zeros(1, s.size, s.size)
    mask[:, s.size // 4: s.size // 2, s.size // 4: s.size // 2] = 1.0
    x = s.size // 4
    points = f'[{{"source": [{x}, {x}], "target": [{x + 8 * s.drag_latent_px}, {x}]}}]'
    m, n, e = s.drag_latent_px // 2, s.drag_steps, s.edit_steps
    stage = {"scheduler": "simple", "precision": "float32"}

    def drag(method):
        return c.call("SDEEditSDEDrag", model=model, positive=pos, negative=neg, latent=lat, points=points, t0=0.6,
                      steps=n, step_size=2.0, r=5, alpha=1.1, beta=0.3, cfg=3.0, seed=0, method=method,
                      multi_point="simultaneous", vae=vae, **stage)

    def record(latent, positive, t0=0.7):
        return c.call("SDEEditCycleSDERecord", model=model, positive=positive, negative=neg, cfg=7.5,
                      cfg_schedule="constant", latent=latent, t0=t0, steps=e, seed=0, batch_size=1,
                      independent_noise=False, **stage)

    def resample(x_t0, trajectory, method, m_=None):
        kw = {} if m_ is None else {"mask": m_}
        return c.call("SDEEditResample", model=model, positive=tgt, negative=neg, cfg=7.5, cfg_schedule="constant",
                      latent=x_t0, trajectory=trajectory, method=method, seed=0, **kw)

    def diffedit_sde():
        edit_mask = c.call("SDEEditDiffEditMask", model=model, target=tgt, reference=pos, latent=lat, cfg=7.5,
                           noises=10, noise_strength=0.5, clamp_factor=3.0, threshold=0.5, seed=0, batch_size=0,
                           vae=vae)[0]
        return resample(*record(lat, pos), "cycle_sde", edit_mask)

    def inpaint_sde():
        x_t0, trajectory = c.call("SDEEditNoiseAddingInversion", model=model, latent=lat, t0=1.0, steps=e, seed=0,
                                  independent_noise=False, **stage)
        return resample(x_t0, trajectory, "ddpm", mask)

    recorded = record(lat, pos)

    def ksampler(steps, cfg):
        return c.call("KSampler", model=model, seed=0, steps=steps, cfg=cfg, sampler_name="euler", scheduler="simple",
                      positive=pos, negative=neg, latent_image=lat, denoise=1.0)

    return {
        "SDE-Drag": (lambda: drag("sde"), m * n),
        "ODE-Drag": (lambda: drag("ode"), m * (2 * n - 1)),
        "DiffEdit-SDE": (diffedit_sde, 1 + 2 * e),
        "Inpaint-SDE": (inpaint_sde, e),
        "stage 2: Resample cycle_sde": (lambda: resample(*recorded, "cycle_sde"), e),
        "stage 2: KSampler": (lambda: ksampler(e, 7.5), e),
        f"KSampler, {m * n} steps": (lambda: ksampler(m * n, 3.0), m * n),
    }


def measure(c, s: Settings) -> list[dict]:
    """One row per workload: median seconds over `s.rounds` interleaved rounds (after a warm-up run, which also
    counts the model calls and rows), the per-round times, and the peak CUDA memory of its last run."""
    import torch
    from bench.workloads import interleaved, median
    from inprocess import CallCounter

    model, clip, vae = c.checkpoint(s.checkpoint)
    counter = CallCounter(model)
    pos, tgt, neg = c.prompts(clip, "a photo of a cat", "a photo of a dog", "")
    runs = workloads(c, s, counter.model, pos, tgt, neg, vae)
    counts = {}
    for name, (fn, _) in runs.items():  # warm-up: the model on the device, kernels chosen; the calls counted
        counts[name] = counter.count(fn)
    peaks = {}

    def timed_run(name, fn):
        def run():
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            fn()
            peaks[name] = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        return run

    times = interleaved({name: timed_run(name, fn) for name, (fn, _) in runs.items()}, s.rounds, warmup=0)
    rows = []
    for name, (_, formula) in runs.items():
        calls, n_rows = counts[name]
        rows.append({"name": name, "seconds": median(times[name]), "times": times[name], "calls": calls,
                     "rows": n_rows, "formula": formula, "peak_mib": peaks[name]})
        print(f"{name:32s} {median(times[name]):8.2f} s  {calls:5d} calls  {n_rows:6d} rows"
              + (f"  {peaks[name]:8.0f} MiB" if peaks[name] is not None else ""), flush=True)
    return rows


def _ratio(a: dict, b: dict, per_call: bool = False) -> str:
    """The median of per-round ratios a / b (per model call where asked) and, over several rounds, its quartiles."""
    import statistics

    ratios = [(x / a["calls"]) / (y / b["calls"]) if per_call else x / y
              for x, y in zip(a["times"], b["times"], strict=True)]
    text = f"{statistics.median(ratios):.3f}"
    if len(ratios) > 2:
        q = statistics.quantiles(ratios, n=4)
        text += f" (quartiles {q[0]:.3f}–{q[2]:.3f})"
    return text


def report(rows: list[dict], s: Settings, smoke: bool) -> str:
    """The markdown report; the paper's Table 7 and the goals are compared only at the paper's settings (and in
    the smoke run, which exercises that code)."""
    import torch

    by, paper_mode = {r["name"]: r for r in rows}, s is PAPER or smoke
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    title = ("# Benchmarks on a GPU at the paper's settings" if paper_mode
             else "# The paper's workloads on the real SD1.5 architecture, on a CPU")
    how = "`scripts/bench_gpu.py` (`make bench-gpu`)" if paper_mode else "`scripts/bench_gpu.py --cpu-real`"
    lines = [title, "",
             f"Generated by {how}" + (" in **smoke mode** (tiny checkpoint, 64 px, a few steps: the numbers mean "
                                      "nothing)" if smoke else "") + ". The model is "
             + ("the tiny test SD1.5" if smoke else "full-size SD1.5 (the real architecture with random weights: "
                "the real model's cost)") + f", {s.size} × {s.size} px; SDE-Drag n = {s.drag_steps}, "
             f"m = {s.drag_latent_px // 2}; the edits {s.edit_steps} steps. A warm-up run of every graph, then "
             f"{s.rounds} interleaved round(s), each running every workload in a rotating order; seconds are "
             "medians over rounds.", "",
             f"Machine: GPU {gpu}; torch {torch.__version__}; Python {platform.python_version()}.", "",
             "| workload | seconds | model calls (formula) | rows | peak CUDA memory (MiB) |"
             + (" paper, A100 (s) | ours / paper |" if paper_mode else ""),
             "|---|---|---|---|---|" + ("---|---|" if paper_mode else "")]
    for r in rows:
        paper = PAPER_A100.get(r["name"])
        cells = [r["name"], f"{r['seconds']:.2f}", f"{r['calls']} ({r['formula']})", str(r["rows"]),
                 f"{r['peak_mib']:.0f}" if r["peak_mib"] is not None else "–"]
        if paper_mode:
            cells += [str(paper), f"{r['seconds'] / paper:.2f}"] if paper else ["–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    ours, theirs = by["stage 2: Resample cycle_sde"], by["stage 2: KSampler"]
    ksampler_mn = next(r for r in rows if r["name"].startswith("KSampler, "))
    lines += ["", f"- Our stage 2 per step against KSampler's: **{_ratio(ours, theirs, per_call=True)}** (goal ≤ "
              f"{GOAL_STEP_RATIO}; medians of per-round ratios over {len(ours['times'])} interleaved round(s)).",
              f"- SDE-Drag against {ksampler_mn['name']} (the same number of model calls, half the rows): "
              f"{_ratio(by['SDE-Drag'], ksampler_mn)}; ODE-Drag (about twice the calls): "
              f"{_ratio(by['ODE-Drag'], ksampler_mn)}."]
    if paper_mode:
        where = "" if smoke else " at the paper's defaults"
        lines.append(f"- SDE-Drag{where}: **{by['SDE-Drag']['seconds']:.1f} s** (goal ≤ {GOAL_SDE_DRAG_S:g} s on an "
                     f"H100-class GPU; the paper's A100: {PAPER_A100['SDE-Drag']} s).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny checkpoint, 64 px, a few steps (any machine)")
    ap.add_argument("--cpu-real", action="store_true", help="full-size SD1.5 at 256 px and 4 steps, 3 interleaved "
                                                            "rounds: the real architecture's ratios on a CPU")
    ap.add_argument("--out", type=Path, default=None, help="where benchmarks_gpu.md goes (default: docs/; smoke: "
                                                           "nowhere unless given)")
    args = ap.parse_args(argv)
    s = SMOKE if args.smoke else CPU_REAL if args.cpu_real else PAPER
    import torch

    if s.checkpoint == "sd15_full":
        target = COMFY / "models" / "checkpoints" / "sde_edit_full_sd15.safetensors"
        if not target.exists():
            from make_full_checkpoints import CHECKPOINTS
            from make_full_checkpoints import main as build

            build(["--comfy", str(COMFY), "--out", str(target.parent), "--verify"], checkpoints=CHECKPOINTS,
                  tag="sde_edit_full")
        if s is PAPER and not torch.cuda.is_available():
            print("no GPU: the paper's settings would take hours here; use --cpu-real or --smoke")
            return 2
    from inprocess import Comfy

    c = Comfy(cpu=not torch.cuda.is_available(), quiet=True)
    c.quiet_progress()
    text = report(measure(c, s), s, args.smoke)
    out = args.out or (None if args.smoke else ROOT / "docs")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        name = "benchmarks_cpu_real.md" if args.cpu_real else "benchmarks_gpu.md"
        (out / name).write_text(text)
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
