"""Benchmark section 7: the image's LoRA (Train Image LoRA, and SDE-Drag's falling LoRA strength) — training
time, and what a strength set per model call costs against ComfyUI's own Load LoRA, which merges the LoRA
into the weights once at a fixed strength."""

from __future__ import annotations

from pathlib import Path

from inprocess import Comfy

from bench.report import ms, table
from bench.speed import counted_warmup, quartiles
from bench.workloads import Inputs, median, sde_drag, timed

CFG = 3.0


def lora(c: Comfy, plan, out: Path, notes: list[str]) -> str:
    ckpt, size, steps, train_steps, repeats = plan.lora
    inp = Inputs(c, ckpt, size)
    train_times: list[float] = []
    result: dict = {}

    def train():
        result["out"] = c.call("SDEEditTrainImageLoRA", model=inp.model, positive=inp.pos, latent=inp.latent,
                               steps=train_steps, rank=4, learning_rate=2e-4, seed=0, training_dtype="float32")

    timed(lambda: c.call("SDEEditTrainImageLoRA", model=inp.model, positive=inp.pos, latent=inp.latent, steps=1,
                         rank=4, learning_rate=2e-4, seed=0, training_dtype="float32"))  # warm-up
    for _ in range(2):
        train_times.append(timed(train))
    weights, loss = result["out"]
    per_step = median(train_times) / train_steps
    merged = c.call("LoraModelLoader", model=inp.model, lora=weights, strength_model=1.0)[0]
    runs = {
        "SDE-Drag, no LoRA": lambda: sde_drag(inp, steps, CFG),
        "SDE-Drag, LoRA merged by core Load LoRA (strength 1 throughout)":
            lambda: sde_drag(inp.with_model(merged), steps, CFG),
        "SDE-Drag, falling LoRA (strength set per call, lora_min 0.5)":
            lambda: sde_drag(inp, steps, CFG, lora=weights, lora_min=0.5),
    }
    calls, _ = counted_warmup(inp.model, {k: v for k, v in runs.items() if "merged" not in k})
    merged_calls, _ = counted_warmup(merged, {k: v for k, v in runs.items() if "merged" in k})
    calls |= merged_calls
    # In blocks, A B C then C B A (a drift in the machine's load hits all alike): switching models makes core
    # Load LoRA re-merge its weights, so each block starts with an untimed run.
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for order in (names, names[::-1]):
        for name in order:
            runs[name]()
            times[name] += [timed(runs[name]) for _ in range(repeats)]
    base, merged_name, falling = names
    rows = [[name, f"{calls[name][0]} / {calls[name][1]}", ms(median(times[name])),
             f"{median(times[name]) / median(times[base]):.3f}",
             f"{median(times[name]) / median(times[merged_name]):.3f}"] for name in names]
    ratio = median(times[falling]) / median(times[merged_name])
    q = quartiles([t / median(times[merged_name]) for t in times[falling]])
    if calls[falling] != calls[base]:
        notes.append(f"The falling LoRA changed the model calls: {calls[falling]} against {calls[base]}.")
    return "\n\n".join([
        f"{ckpt} at {size} px. **Training** (Train Image LoRA, rank 4, AdamW, lr 2e-4, float32, batch "
        f"{inp.latent['samples'].shape[0]}): {train_steps} steps in {median(train_times):.2f} s (median of 2), "
        f"{ms(per_step)} a step, so the paper's 100 steps take about **{100 * per_step:.1f} s** here; loss over the "
        f"last steps {loss:.4f}.",
        f"**Dragging with it**: SDE-Drag with one sub-step of {steps} steps at CFG {CFG} (the fused record + replay), "
        f"2 × {repeats} timed runs per configuration in blocks, in the order A B C C B A, each block after an untimed "
        "run (switching models makes core Load LoRA re-merge its weights, a cost kept out of its timing here). "
        "Core Load LoRA merges the LoRA into the weights once, at one strength; the pack's falling strength "
        "leaves the weights alone and adds s·ΔW in each patched layer as it runs, with s set per call.",
        table(["configuration", "model calls / rows", "median", "÷ no LoRA", "÷ merged LoRA"], rows),
        f"Falling LoRA ÷ merged LoRA: {ratio:.3f} (quartiles of per-run ratios {q[0]:.2f}–{q[1]:.2f}): the "
        "price of a strength that changes every step without re-merging. Model calls are the same in all three.",
    ])
