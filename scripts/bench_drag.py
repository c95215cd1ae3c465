"""Cost of one SDE-Drag edit at the paper's defaults against ComfyUI's KSampler, in one ComfyUI process.

Loads ComfyUI in-process with the tiny SD1.5 checkpoint and times, at `--size` px (64 by default):

    SDE-Drag            SDE Edit: SDE-Drag at the paper's defaults (t0 0.6, 120 steps, step 2 latent px,
                        r 5, alpha 1.1, beta 0.3, CFG 1 -> 3 linear) for a drag of `--drag` latent px
    ODE-Drag            the same node, method ode (DDIM inversion + DDIM)
    KSampler, n steps   core KSampler (ddpm, CFG 3, denoise 0.6): the same number of steps as ONE sub-step
    KSampler, m*n steps the same number of steps as the whole SDE-Drag run

It prints forward passes, rows per pass and the median wall time of `--runs` round-robin runs.
Timings depend on the machine's load: compare the ratios of one run, not absolute seconds.

Usage: python scripts/bench_drag.py [--steps 120] [--size 64] [--drag 4] [--runs 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hostlib import CHECKPOINTS, load_in_process  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--drag", type=int, default=4, help="drag length in latent px (m = drag / 2 sub-steps)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    nodes = load_in_process(pathlib.Path(tempfile.mkdtemp(prefix="sde_edit_bench_drag_")))
    import comfy.utils

    comfy.utils.PROGRESS_BAR_ENABLED = False
    mapping = nodes.NODE_CLASS_MAPPINGS
    passes: list[int] = []
    with torch.inference_mode():
        model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(CHECKPOINTS["sd15"])
        counted = model.clone()
        counted.set_model_unet_function_wrapper(
            lambda apply, a: passes.append(int(a["input"].shape[0])) or apply(a["input"], a["timestep"], **a["c"]))
        encode = nodes.CLIPTextEncode().encode
        pos, neg = encode(clip, "a photo")[0], encode(clip, "")[0]
        image = torch.rand(1, args.size, args.size, 3, generator=torch.Generator().manual_seed(0))
        latent = nodes.VAEEncode().encode(vae, image)[0]
        c = args.size // 2
        points = json.dumps([{"source": [c - 4 * args.drag, c], "target": [c + 4 * args.drag, c]}])

        def drag(method: str):
            return mapping["SDEEditSDEDrag"].execute(
                model=counted, positive=pos, negative=neg, latent=latent, points=points, t0=0.6, steps=args.steps,
                step_size=2.0, r=5, alpha=1.1, beta=0.3, cfg=3.0, seed=0, method=method,
                multi_point="simultaneous", scheduler="simple", precision="float32")

        m = max(1, round(args.drag / 2))

        def ksampler(steps: int):
            return nodes.KSampler().sample(counted, 0, steps, 3.0, "ddpm", "simple", pos, neg, latent, denoise=0.6)

        cases = {"SDE-Drag": lambda: drag("sde"), "ODE-Drag": lambda: drag("ode"),
                 f"KSampler, {args.steps} steps": lambda: ksampler(args.steps),
                 f"KSampler, {m * args.steps} steps": lambda: ksampler(m * args.steps)}
        print(f"tiny SD1.5, {args.size} px, drag of {args.drag} latent px (m = {m}), {args.steps} steps, median of "
              f"{args.runs}, {torch.get_num_threads()} threads")
        times: dict[str, list[float]] = {name: [] for name in cases}
        counts: dict[str, list[int]] = {}
        for run in range(args.runs + 1):  # round robin; run 0 warms up
            for name, fn in cases.items():
                passes.clear()
                start = time.perf_counter()
                fn()
                if run:
                    times[name].append(time.perf_counter() - start)
                counts[name] = list(passes)
        base = statistics.median(times[f"KSampler, {args.steps} steps"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:22s} {len(counts[name]):4d} forward passes, {sum(counts[name]):5d} rows   "
                  f"median {med:7.2f} s   {med / base:5.2f}x KSampler at {args.steps} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
