"""ComfyUI in this process, for the benchmark: load it, call nodes, time and count model calls.

The same start-up as the host test tier (tests/host/conftest.py; docs/design.md §9): ComfyUI's
folder first on sys.path, `--cpu` set before `comfy.model_management` is imported (unless a CUDA
device is there), `utils.install_util` before `nodes`, the pack loaded by ComfyUI's own loader.
Nodes run under `torch.inference_mode()`: V3 nodes as `cls.execute(**kw)`, core V1 nodes as
`cls().<FUNCTION>(**kw)`.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from hostlib import CHECKPOINTS, load_in_process


class Comfy:
    """The loaded ComfyUI and this pack: node calls, checkpoints, prompts and latents."""

    def __init__(self, quiet: bool = True):
        self._tmp = tempfile.TemporaryDirectory(prefix="sde_edit_bench_")
        if quiet:  # ComfyUI's start-up warnings (e.g. its audio nodes without torchaudio) are not ours
            logging.getLogger().setLevel(logging.ERROR)
            warnings.filterwarnings("ignore", module="torchsde")  # its float-rounding notes, in both samplers
        nodes = load_in_process(Path(self._tmp.name), cpu=not torch.cuda.is_available())
        import comfy.model_management

        self.nodes = nodes
        self.mm = comfy.model_management
        self._checkpoints: dict = {}
        self._prompts: dict = {}

    def quiet_progress(self) -> None:
        """No tqdm bars from ComfyUI's samplers (the benchmark prints its own progress)."""
        import comfy.utils

        comfy.utils.set_progress_bar_enabled(False)

    # --- nodes ------------------------------------------------------------------------------------
    def has(self, node_id: str) -> bool:
        return node_id in self.nodes.NODE_CLASS_MAPPINGS

    def node(self, node_id: str):
        return self.nodes.NODE_CLASS_MAPPINGS[node_id]

    def call(self, node_id: str, **kwargs) -> tuple:
        """Run one node (V3 or V1) under inference mode; its outputs as a tuple."""
        cls = self.node(node_id)
        with torch.inference_mode():
            if hasattr(cls, "define_schema"):
                return tuple(cls.execute(**kwargs).result)
            return tuple(getattr(cls(), cls.FUNCTION)(**kwargs))

    def schema_inputs(self, node_id: str) -> list:
        """A V3 node's input declarations (id, io type, default), for calling a node at its defaults."""
        schema = self.node(node_id).define_schema()
        return list(schema.inputs)

    def call_at_defaults(self, node_id: str, sockets: dict, overrides: dict | None = None) -> tuple:
        """Call a V3 node with every widget at its default; `sockets` fills inputs by id or by io type."""
        kwargs = {}
        for inp in self.schema_inputs(node_id):
            io_type = str(inp.get_io_type())
            if inp.id in sockets:
                kwargs[inp.id] = sockets[inp.id]
            elif io_type in sockets:
                kwargs[inp.id] = sockets[io_type]
            elif getattr(inp, "default", None) is not None:
                kwargs[inp.id] = inp.default
            elif getattr(inp, "options", None):
                kwargs[inp.id] = inp.options[0]
            elif not inp.optional:
                raise ValueError(f"{node_id}: no value for the required input {inp.id!r} ({io_type})")
        kwargs.update(overrides or {})
        return self.call(node_id, **kwargs)

    # --- models and inputs --------------------------------------------------------------------------
    def checkpoint(self, name: str):
        """(model, clip, vae) of a tiny checkpoint ("sd15" or "sd3"), loaded once."""
        if name not in self._checkpoints:
            self._checkpoints[name] = self.call("CheckpointLoaderSimple", ckpt_name=CHECKPOINTS[name])
        return self._checkpoints[name]

    def prompts(self, clip, *texts: str) -> list:
        """CONDITIONINGs of the texts, encoded once per CLIP."""
        for t in texts:
            if (id(clip), t) not in self._prompts:
                self._prompts[(id(clip), t)] = self.call("CLIPTextEncode", clip=clip, text=t)[0]
        return [self._prompts[(id(clip), t)] for t in texts]

    def latent(self, vae, size: int, batch: int = 1, seed: int = 1) -> dict:
        """The VAE latent of a seeded random image of size × size pixels."""
        gen = torch.Generator().manual_seed(seed)
        image = torch.rand(batch, size, size, 3, generator=gen)
        return self.call("VAEEncode", vae=vae, pixels=image)[0]

    def decode(self, vae, latent: dict) -> torch.Tensor:
        return self.call("VAEDecode", vae=vae, samples=latent)[0]


class CallCounter:
    """Counts forward passes of the diffusion model (and their batch rows) via ComfyUI's unet wrapper hook.

    The same hook as tests/host/stage_helpers.CallCounter. With clone=True `self.model` is a counting clone
    to pass to nodes; with clone=False the hook goes on `model` itself until `detach()` (so a counted run
    can double as the warm-up of the very model object that is timed afterwards).
    """

    def __init__(self, model, clone: bool = True):
        self.rows: list[int] = []
        self.model = model.clone() if clone else model
        self._previous = self.model.model_options.get("model_function_wrapper")
        self.model.set_model_unet_function_wrapper(self)

    def __call__(self, apply_model, args):
        self.rows.append(int(args["input"].shape[0]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    @property
    def calls(self) -> int:
        return len(self.rows)

    def detach(self) -> None:
        if self._previous is None:
            self.model.model_options.pop("model_function_wrapper", None)
        else:
            self.model.model_options["model_function_wrapper"] = self._previous


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
             alpha: float = 1.0, beta: float = 1.0, seed: int = 1) -> dict:
    """The composite SDE-Drag node (recording fused into the sampling calls); with the defaults here, one
    sub-step whose paste changes nothing: the fused record + replay alone."""
    return inp.c.call("SDEEditSDEDrag", model=inp.model, positive=inp.pos, negative=inp.neg, latent=inp.latent,
                      points=points, t0=t0, steps=steps, step_size=2.0, r=5, alpha=alpha, beta=beta, cfg=cfg,
                      seed=seed, method=method, multi_point="simultaneous", scheduler=SCHEDULER,
                      precision="float32")[0]


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
