"""The benchmark report's plan, sections and writer (scripts/benchmark.py is its command line; the module
docstring there says what each section measures)."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from inprocess import Comfy

from bench.report import load_average, machine, table

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plan:
    name: str
    overhead: tuple  # ((checkpoint, image px, steps), ...)
    overhead_repeats: int
    recording: tuple  # (checkpoint, image px, steps)
    batches: tuple  # recording batch sizes (0 = all steps in one call)
    recording_repeats: int
    calls: tuple  # (checkpoint, image px)
    calls_steps: int | None  # None: the nodes' defaults
    memory: tuple  # (checkpoint, image px, steps)
    memory_configs: int  # how many of bench.scale.MEMORY_CONFIGS
    fresh_processes: bool  # one process per memory measurement (else one for all: quick mode)
    scaling: tuple  # ((checkpoint, sizes, steps list, rounds), ...)
    scaling_memory: tuple | None  # (checkpoint, sizes, steps)
    toy: tuple  # (samples, steps, plot every k steps)
    table3: tuple  # (checkpoint, image px, steps, guidance scales)
    lora: tuple  # (checkpoint, image px, drag steps, LoRA training steps, timed runs)


FULL = Plan(
    name="full",
    overhead=(("sd15", 64, 9), ("sd3", 64, 21)), overhead_repeats=5,
    recording=("sd15", 64, 12), batches=(1, 4, 8, 0), recording_repeats=3,
    calls=("sd3", 64), calls_steps=None,
    memory=("sd15", 256, 4), memory_configs=4, fresh_processes=True,
    scaling=(("sd3", (64, 128, 256), (8, 16, 32), 2), ("sd15", (64, 128, 256), (2, 4), 1)),
    scaling_memory=("sd15", (64, 128, 256), 4),
    toy=(30_000, 40, 2),
    table3=("sd15", 64, 12, (1.0, 3.0, 5.0, 7.5, 10.0)),
    lora=("sd15", 64, 8, 20, 5),
)
QUICK = Plan(
    name="quick",
    overhead=(("sd3", 64, 4),), overhead_repeats=2,
    recording=("sd3", 64, 6), batches=(1, 4, 0), recording_repeats=2,
    calls=("sd3", 64), calls_steps=4,
    memory=("sd3", 64, 4), memory_configs=2, fresh_processes=False,
    scaling=(("sd3", (64, 128), (2, 4), 1),),
    scaling_memory=None,
    toy=(30_000, 40, 10),
    table3=("sd15", 64, 4, (1.0, 7.5)),
    lora=("sd3", 64, 4, 2, 2),
)

# The real SD1.5 architecture (random weights, `make checkpoints-full`) at 256 px and a few steps on the CPU: the
# comparisons whose cost profile the tiny checkpoints cannot show (`make bench-real`).
REAL = Plan(
    name="real",
    overhead=(("sd15_full", 256, 4),), overhead_repeats=3,
    recording=("sd15_full", 256, 4), batches=(1, 2, 0), recording_repeats=2,
    calls=("sd15_full", 256), calls_steps=4,
    memory=("sd15_full", 256, 4), memory_configs=4, fresh_processes=True,
    scaling=(), scaling_memory=None,
    toy=(30_000, 40, 10),
    table3=("sd15_full", 256, 4, (1.0, 7.5)),
    lora=("sd15_full", 256, 4, 4, 3),
)
REAL_SECTIONS = "1,2,4,7"  # overhead, recording, memory, the LoRA

SECTIONS = (  # (title, module, function)
    ("1. Overhead of our stage-2 samplers against ComfyUI's", "bench.speed", "overhead"),
    ("2. Cycle-SDE recording: batched, sequential, fused", "bench.speed", "recording"),
    ("3. Model calls per edit", "bench.speed", "model_calls"),
    ("4. Peak memory: SDE-Drag vs KSampler", "bench.scale", "memory"),
    ("5. Scaling with steps and image size", "bench.scale", "scaling"),
    ("6. The paper's claims, reproduced without real weights", "bench.scale", "paper_claims"),
    ("7. The image's LoRA: training time and the falling strength's cost", "bench.lora_cost", "lora"),
)


def run(plan: Plan, out: Path, only: set[int] | None = None) -> bool:
    """Run every section, write out/benchmarks.md; False if a section failed (its error is in the report)."""
    out.mkdir(parents=True, exist_ok=True)
    start, load_start = time.perf_counter(), load_average()
    c = Comfy(cpu=not torch.cuda.is_available(), quiet=True)
    c.quiet_progress()
    info = machine()
    notes: list[str] = []
    bodies, timings, ok = [], [], True
    for k, (title, module, fn) in enumerate(SECTIONS, start=1):
        if only and k not in only:
            continue
        t = time.perf_counter()
        print(f"[bench] {title} …", flush=True)
        try:
            body = getattr(importlib.import_module(module), fn)(c, plan, out, notes)
        except Exception:  # a failed section is reported, the others still run
            ok = False
            body = f"**This section failed:**\n\n```\n{traceback.format_exc()[-3000:]}\n```"
            print(body, file=sys.stderr)
        timings.append([title, f"{time.perf_counter() - t:.0f} s"])
        bodies.append(f"## {title}\n\n{body}")
        print(f"[bench]   done in {time.perf_counter() - t:.0f} s", flush=True)
    total = time.perf_counter() - start
    info |= {"load average (1/5/15 min) at start": load_start, "load average at end": load_average(),
             "mode": f"`{plan.name}`", "total wall time": f"{total:.0f} s"}
    (out / "benchmarks.md").write_text(_report(info, bodies, timings, notes))
    print(f"[bench] wrote {out / 'benchmarks.md'} in {total:.0f} s", flush=True)
    return ok


def _report(info: dict, bodies: list[str], timings: list, notes: list[str]) -> str:
    cpu_only = "none" in info["GPU"]
    general = [
        "Timings are wall times on a machine that may have been shared: each comparison was measured in one "
        "process, its runs interleaved, and is reported as the median of per-round ratios; absolute times "
        "are indicative only. The load average above says how busy the machine was.",
        "The checkpoint is full-size SD1.5 with random weights from a seed (`make checkpoints-full`: the real "
        "860M-parameter UNet, CLIP-L and VAE), so the costs are a real model's; its random weights say nothing "
        "about edit quality." if info.get("mode") == "`real`" else
        "The checkpoints are the host's tiny seeded ones (a 1-level SD1.5 UNet at full 320-channel width with "
        "the full CLIP-L, and a depth-2 SD3 MMDiT): their speed is not a real model's, and their random "
        "weights say nothing about edit quality.",
    ]
    if cpu_only:
        general.append(
            "CPU only. On a GPU, per-call fixed costs (Python, ComfyUI's conditioning set-up) are a larger share "
            "of a fast model call, so the overhead ratios are the stricter test there; batching (sections 2 and "
            "4) pays off far more, because one row leaves a GPU mostly idle; and section 4 reports "
            "`torch.cuda.max_memory_allocated` as well.")
    parts = [
        "# Benchmarks",
        "Generated by `scripts/benchmark.py` (`make bench`); regenerate it on a quiet machine for numbers to "
        "quote. Section by section: what is measured, how, and what it shows.",
        "## Machine",
        table(["", ""], [[k, v] for k, v in info.items()]),
        *[f"- {g}" for g in general],
        *bodies,
        "## Notes",
        "\n".join(f"- {n}" for n in notes) if notes else "- Every target met and every claim reproduced in this run.",
        "Wall time per section:\n\n" + table(["section", "wall time"], timings),
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="How the pack performs: a report with tables and plots, written to "
                                            "docs/benchmarks.md and docs/*.png.")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: seconds (development, smoke test)")
    p.add_argument("--real", action="store_true", help=f"the full-size SD1.5 (make checkpoints-full) at 256 px, "
                                                        f"sections {REAL_SECTIONS} unless --sections says otherwise")
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md and the PNGs go (docs/)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads (default: torch's choice, all cores); 1 is steadier on a busy machine")
    p.add_argument("--sections", default="", help="comma-separated section numbers to run (default: all)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = args.sections or (REAL_SECTIONS if args.real else "")
    only = {int(s) for s in sections.split(",") if s.strip()} or None
    plan = REAL if args.real else QUICK if args.quick else FULL
    return 0 if run(plan, args.out.resolve(), only) else 1

