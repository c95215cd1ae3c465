"""The benchmark's workloads and timing: the node calls it times, counts and measures, on the one in-process
ComfyUI (scripts/inprocess.py), and wall times of interleaved rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from inprocess import Comfy


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call of fn (CUDA synchronised where there is a GPU)."""
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def interleaved(runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall times of every run, `repeats` rounds, each round running all of them in turn (a rotating order),
    so that a change of machine load hits every configuration alike. `warmup` rounds are not recorded."""
    names = list(runs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t = timed(runs[name])
            if r >= warmup:
                times[name].append(t)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def paired_ratios(a: list[float], b: list[float]) -> list[float]:
    """Per-round ratios a_i / b_i of two interleaved series (each pair ran under about the same load)."""
    return [x / y for x, y in zip(a, b, strict=True)]


# --- workloads: the node calls the benchmark times, counts and measures ------------------------------
T0, SCHEDULER = 0.6, "simple"
# Both squares on the same latent pixel: one sub-step, and with α = β = 1 a plain record + replay.
NO_DRAG = '[{"source": [16, 16], "target": [20, 21]}]'


class Inputs:
    """A model with its prompts and an input latent: what every workload needs."""

    def __init__(self, c: Comfy, checkpoint: str, size: int, model=None):
        self.c, self.checkpoint, self.size = c, checkpoint, size
        ckpt_model, self.clip, self.vae = c.checkpoint(checkpoint)
        self.model = ckpt_model if model is None else model
        self.pos, self.neg, self.target = c.prompts(self.clip, "a red disc on grey", "", "a blue square on grey")
        self.latent = c.latent(self.vae, size)

    def with_model(self, model) -> Inputs:
        """The same prompts and latent on another (e.g. call-counting) model."""
        other = object.__new__(Inputs)
        other.__dict__.update(self.__dict__)
        other.model = model
        return other


def ksampler(inp: Inputs, steps: int, cfg: float, sampler: str, t0: float = T0, seed: int = 0) -> dict:
    """Core KSampler with denoise = t0: `steps` model calls, as our stage 2 over the same levels."""
    return inp.c.call("KSampler", model=inp.model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler,
                      scheduler=SCHEDULER, positive=inp.pos, negative=inp.neg, latent_image=inp.latent,
                      denoise=t0)[0]


def record(inp: Inputs, steps: int, cfg: float, schedule: str = "constant", batch_size: int = 0, t0: float = T0,
           precision: str = "float32", seed: int = 1, positive=None) -> tuple:
    """Cycle-SDE Record: (x_t0 LATENT, trajectory)."""
    return inp.c.call("SDEEditCycleSDERecord", model=inp.model, positive=positive or inp.pos, negative=inp.neg,
                      cfg=cfg, cfg_schedule=schedule, latent=inp.latent, t0=t0, steps=steps, seed=seed,
                      scheduler=SCHEDULER, batch_size=batch_size, independent_noise=False, precision=precision)


def resample(inp: Inputs, x_t0: dict, traj, method: str, cfg: float, schedule: str = "constant", seed: int = 0,
             positive=None, mask=None) -> dict:
    kw = {} if mask is None else {"mask": mask}
    return inp.c.call("SDEEditResample", model=inp.model, positive=positive or inp.pos, negative=inp.neg, cfg=cfg,
                      cfg_schedule=schedule, latent=x_t0, trajectory=traj, method=method, seed=seed, **kw)[0]


def sde_drag(inp: Inputs, steps: int, cfg: float, points: str = NO_DRAG, method: str = "sde", t0: float = T0,
             alpha: float = 1.0, beta: float = 1.0, seed: int = 1, **extra) -> dict:
    """The composite SDE-Drag node (recording fused into the sampling calls); with the defaults here, one
    sub-step whose paste changes nothing: the fused record + replay alone."""
    return inp.c.call("SDEEditSDEDrag", model=inp.model, positive=inp.pos, negative=inp.neg, latent=inp.latent,
                      points=points, t0=t0, steps=steps, step_size=2.0, r=5, alpha=alpha, beta=beta, cfg=cfg,
                      seed=seed, method=method, multi_point="simultaneous", scheduler=SCHEDULER,
                      precision="float32", **extra)[0]


def custom_advanced(inp: Inputs, sampler, sigmas, latent: dict, cfg: float) -> dict:
    """Core SamplerCustomAdvanced with Disable Noise and a CFGGuider: the SAMPLER form of stage 2."""
    c = inp.c
    guider = c.call("CFGGuider", model=inp.model, positive=inp.pos, negative=inp.neg, cfg=cfg)[0]
    noise = c.call("DisableNoise")[0]
    return c.call("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
                  latent_image=latent)[0]


def record_resample(inp: Inputs, steps: int, cfg: float, batch_size: int = 0, schedule: str = "constant") -> dict:
    x_t0, traj = record(inp, steps, cfg, schedule, batch_size)
    return resample(inp, x_t0, traj, "cycle_sde", cfg, schedule)


WORKLOADS = {
    "ksampler": lambda inp, steps, cfg, batch_size: ksampler(inp, steps, cfg, "ddpm"),
    "sde_drag": lambda inp, steps, cfg, batch_size: sde_drag(inp, steps, cfg),
    "record_resample": lambda inp, steps, cfg, batch_size: record_resample(inp, steps, cfg, batch_size, "linear"),
}
