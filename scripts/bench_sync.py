"""Cost of a sync-SDE edit against ComfyUI's own sampler at the same steps, in one ComfyUI process.

Loads ComfyUI in-process (as the host test tier does) with the tiny flow checkpoint (SD3-shaped) and
times, on the same 24-step grid (the authors' "28 steps from step 4": steps 24, t0 = 24/28):

    sync-SDE            SDE Edit: Sync-SDE, source and target rows in one forward pass per step
    sync-SDE, 2 passes  the same edit with the prompts evaluated in two passes per step (what the
                        authors' code does; forced here by a conditioning strength, which changes nothing)
    KSampler euler      core KSampler, euler, denoise 24/28 on the same latent (one pass of B rows per step)

It prints forward passes, rows per pass and the median wall time of `--runs` runs. Timings depend on
the machine's load: compare the ratios of one run, not absolute seconds.

Usage: python scripts/bench_sync.py [--steps 24] [--size 64] [--batch 1] [--runs 5] [--threads N]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hostlib import CHECKPOINTS, load_in_process  # noqa: E402


def load_comfy():
    """ComfyUI's `nodes` module with this pack loaded (hostlib.load_in_process)."""
    import tempfile

    return load_in_process(pathlib.Path(tempfile.mkdtemp(prefix="sde_edit_bench_sync_")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    nodes = load_comfy()
    import comfy.utils

    comfy.utils.PROGRESS_BAR_ENABLED = False  # KSampler's console bar
    mapping = nodes.NODE_CLASS_MAPPINGS
    t0 = args.steps / (args.steps + 4)
    passes: list[int] = []

    with torch.inference_mode():
        model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(CHECKPOINTS["sd3"])
        counted = model.clone()
        counted.set_model_unet_function_wrapper(
            lambda apply, a: passes.append(int(a["input"].shape[0])) or apply(a["input"], a["timestep"], **a["c"]))
        encode = nodes.CLIPTextEncode().encode
        source, target = encode(clip, "a photo of a cat")[0], encode(clip, "a photo of a dog")[0]
        two_pass_target = nodes.ConditioningSetAreaStrength().append(target, 1.0)[0]
        image = torch.rand(args.batch, args.size, args.size, 3, generator=torch.Generator().manual_seed(0))
        latent = nodes.VAEEncode().encode(vae, image)[0]

        def sync(tgt):
            return mapping["SDEEditSyncSDE"].execute(
                model=counted, source=source, source_cfg=1.0, target=tgt, target_cfg=1.0, latent=latent,
                steps=args.steps, t0=t0, scheduler="simple", seed=0, discretization="euler_maruyama",
                precision="float32")

        def ksampler():
            return nodes.KSampler().sample(counted, 0, args.steps, 1.0, "euler", "simple", target, target, latent,
                                           denoise=t0)

        cases = {"sync-SDE": lambda: sync(target), "sync-SDE, 2 passes": lambda: sync(two_pass_target),
                 "KSampler euler": ksampler}
        print(f"tiny flow checkpoint, {args.size} px, batch {args.batch}, {args.steps} steps, median of {args.runs}, "
              f"{torch.get_num_threads()} threads")
        times: dict[str, list[float]] = {name: [] for name in cases}
        counts: dict[str, list[int]] = {}
        for run in range(args.runs + 1):  # round robin, so a change in the machine's load hits every case
            for name, fn in cases.items():
                passes.clear()
                start = time.perf_counter()
                fn()
                if run:  # run 0 warms up
                    times[name].append(time.perf_counter() - start)
                counts[name] = list(passes)
        for name, ts in times.items():
            print(f"  {name:20s} {len(counts[name]):3d} forward passes of {sorted(set(counts[name]))} rows   "
                  f"median {statistics.median(ts):.3f} s  (min {min(ts):.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
