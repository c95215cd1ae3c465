"""The shapes benchmarks' settings and scenes, shared by the run, the tasks and the report (no imports of
theirs, so none of them imports another in a cycle). docs/shapes_benchmarks.md says what the settings mean."""

from __future__ import annotations

import math
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "shapes_bench"
REPORT = ROOT / "docs" / "shapes_benchmarks.md"
WEIGHTS = "shapes_cond_32.safetensors"
SIZE = 32
TASKS = ("drag", "diffedit", "semantic", "semantic_t0", "sweeps", "steps", "sync", "drag_lora")
# Each task's scenes: the headline tasks on held-out scenes, the sweeps (where settings are chosen) on tuning ones.
TASK_SPLIT = {"drag": "heldout", "diffedit": "heldout", "semantic": "heldout", "semantic_t0": "tuning",
              "sweeps": "tuning", "steps": "tuning", "sync": "heldout", "drag_lora": "heldout"}
DEFAULTS = {
    # SDE-Drag as the paper (t0 0.6, step 2 latent px, α 1.1, β 0.3, CFG 3 falling linearly to 1) but 20
    # steps below t0 instead of 120 (a 32 px model on a CPU; docs/shapes_benchmarks.md).
    "drag": {"t0": 0.6, "steps": 20, "step_size": 2.0, "alpha": 1.1, "beta": 0.3, "cfg": 3.0},
    # DiffEdit as the reference pipeline (CFG 7.5, 10 noises at strength 0.5, clamp 3, threshold 0.5).
    "diffedit": {"cfg": 7.5, "noises": 10, "noise_strength": 0.5, "clamp_factor": 3.0},
    # Prompt change: CFG 7.5 on both sides (the paper's DiffEdit-SDE), t0 0.6, 20 steps below it.
    "semantic": {"t0": 0.6, "steps": 20, "cfg": 7.5},
}
SEMANTIC_T0 = (0.3, 0.4, 0.5, 0.6, 0.7)  # the recolour's t0 sweep
# The shipped recolour example (chosen on 12 tuning scenes): mask = the object grown 2 px, t0 0.5, CFG 7.5 with
# the source prompt as the negative (record at CFG 1: replaying the source prompt then reconstructs exactly).
EXAMPLE_RECOLOUR = {"t0": 0.5, "cfg": 7.5, "grow": 2}
STEPS_SWEEP = (20, 60, 120)  # steps below t0: the benchmark's 20 up to the paper's 120 (SDE and ODE)
SWEEPS = {"t0": (0.4, 0.5, 0.6, 0.7, 0.8), "alpha": (1.0, 1.1, 1.3), "beta": (0.0, 0.3, 0.6),
          "step_size": (1.0, 2.0, 4.0, 8.0)}


# ----------------------------------------------------------------------------------------------- cases

# Scene seeds. "tuning": the scenes every earlier run and every sweep used (settings were chosen on them);
# "heldout": scenes no tuning run has seen, for the report's headline numbers.
SPLITS = {"tuning": (11, 12), "heldout": (2011, 2012)}  # (drag seed, edit seed)


def drag_cases(n: int, split: str = "heldout"):
    """n single-object scenes (any of the 8 classes) and a drag of the object's centre to a random point
    0.1–0.6 of the side away, inside the image: [(scene, answer, class prompt, (sx, sy, tx, ty) in px)]."""
    from shapes import world

    rng = np.random.default_rng(SPLITS[split][0])
    out = []
    while len(out) < n:
        c = int(rng.integers(world.N_CLASSES))
        scene = world.random_scene(rng, 1, kind=c // 4, colour=c % 4, r_range=(0.12, 0.18))
        o = scene.shapes[0]
        d, a = float(rng.uniform(0.1, 0.6)), float(rng.uniform(0, 2 * math.pi))
        tx, ty = o.cx + d * math.cos(a), o.cy + d * math.sin(a)
        if not (o.r <= tx <= 1 - o.r and o.r <= ty <= 1 - o.r):
            continue  # the target must keep the whole object inside: draw another drag
        out.append((scene, world.moved(scene, 0, tx, ty), prompt_of(o),
                    (o.cx * SIZE, o.cy * SIZE, tx * SIZE, ty * SIZE)))
    return out


def edit_cases(n: int, split: str = "heldout"):
    """n single-object scenes, each with a recolour (to another palette colour) and a reshape (disc ↔ square):
    [(scene, {"recolour": answer, "reshape": answer})]."""
    from shapes import world

    rng = np.random.default_rng(SPLITS[split][1])
    out = []
    for _ in range(n):
        c = int(rng.integers(world.N_CLASSES))
        scene = world.random_scene(rng, 1, kind=c // 4, colour=c % 4, r_range=(0.12, 0.18))
        o = scene.shapes[0]
        colour = int((o.colour + rng.integers(1, 4)) % 4)
        out.append((scene, {"recolour": world.recoloured(scene, 0, colour),
                            "reshape": world.reshaped(scene, 0, 1 - o.kind)}))
    return out


def prompt_of(shape) -> str:
    from shapes import world

    return f"{world.COLOURS[shape.colour]} {world.KINDS[shape.kind]}"



# The drag methods: the floor, the ODE baseline, and SDE-Drag's variants (node options grid × square_noise).
# "sde_paper" is the paper's exact algorithm (the authors' grid, the recorded noise everywhere).
DRAG_VARIANTS = {
    "copy_paste": None,
    "ode": {"method": "ode", "grid": "scheduler", "square_noise": "recorded"},
    "sde_paper": {"method": "sde", "grid": "paper", "square_noise": "recorded"},
    "sde": {"method": "sde", "grid": "scheduler", "square_noise": "recorded"},
    "sde_fresh": {"method": "sde", "grid": "scheduler", "square_noise": "fresh"},
    "sde_paper_fresh": {"method": "sde", "grid": "paper", "square_noise": "fresh"},
    "sde_vacated": {"method": "sde", "grid": "scheduler", "square_noise": "fresh_vacated"},
    "sde_moved": {"method": "sde", "grid": "scheduler", "square_noise": "moved"},
    "sde_paper_moved": {"method": "sde", "grid": "paper", "square_noise": "moved"},
    "ode_paper": {"method": "ode", "grid": "paper", "square_noise": "recorded"},
}

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
STRENGTHS = (0.3, 0.5, 0.7)
NOISES = (1, 5, 10, 20)
# DiffEdit's map steps (the node's smoothing and fill_holes), each measured at the default noises and strength:
# {name: (smoothing in latent px, fill_holes)}. "raw" is the reference pipeline.
SMOOTHINGS = (0.5, 1.0, 2.0)
DIFFEDIT_VARIANTS = {"raw": (0.0, False), "fill": (0.0, True),
                     **{f"smooth {r:g}": (r, False) for r in SMOOTHINGS},
                     **{f"smooth {r:g} + fill": (r, True) for r in SMOOTHINGS}}
GRID_VARIANT = "smooth 1 + fill"  # the variant the examples grid shows beside the raw map
# The input image's LoRA (drag_lora): trained once per scene at the SDE-Drag authors' settings (SDEEditTrainImageLoRA:
# 100 AdamW steps, rank 4, lr 2e-4, the scene's class prompt, float32), applied with the paper's falling strength
# (1 near the clean image down to lora_min at t0). LORA_DRAGS: the drags run without and with it, the node's
# defaults (grid "scheduler"; square_noise "moved" for SDE-Drag, which ODE-Drag ignores), beside the floor.
LORA = {"steps": 100, "rank": 4, "learning_rate": 2e-4, "training_dtype": "float32", "lora_min": 0.5}
LORA_DRAGS = ("sde_moved", "ode")
# sync-SDE's options at the prompt change's defaults (DEFAULTS["semantic"], CFG on both sides): {name: the node's
# inputs changed}; "mask" is the object's mask grown by EXAMPLE_RECOLOUR["grow"] px (what a user paints).
SYNC_VARIANTS = {"sync_sde": {}, "sync_sde_resample": {"resample": True},
                 "sync_sde_masked": {"mask": True}, "sync_sde_target_cfg_only": {"source_cfg": 1.0}}
