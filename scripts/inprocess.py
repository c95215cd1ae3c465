"""ComfyUI in this process: the one in-process host of the host test tier and the benchmarks.

`Comfy` loads ComfyUI with this pack through `hostlib.load_in_process` (the import order that matters,
docs/design.md §9), then calls nodes (V3 as `cls.execute(**kw)`, core V1 as `cls().<FUNCTION>(**kw)`,
under `torch.inference_mode()`), runs whole API-format graphs through ComfyUI's own PromptExecutor, and
loads the host's tiny checkpoints. `CallCounter` counts the diffusion model's forward passes (and their
batch rows) through ComfyUI's unet wrapper hook.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
import warnings
from pathlib import Path

import torch
from hostlib import CHECKPOINTS, load_in_process


class StubServer:
    """What PromptExecutor needs of PromptServer when no HTTP server runs."""

    client_id = None
    last_node_id = None
    last_prompt_id = None

    def __init__(self):
        self.messages: list[tuple[str, dict]] = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def queue_updated(self):
        pass


class Comfy:
    """The loaded ComfyUI and this pack: node calls, graphs, checkpoints, prompts and latents."""

    def __init__(self, base: Path | None = None, cpu: bool = True, quiet: bool = False):
        """`base`: where ComfyUI's output, input and temp folders go (None: a temporary folder, removed with
        this object); `quiet`: silence ComfyUI's start-up warnings (e.g. its audio nodes without torchaudio)
        and torchsde's float-rounding notes, which are not ours."""
        self._tmp = None
        if base is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sde_edit_comfy_")
            base = Path(self._tmp.name)
        if quiet:
            logging.getLogger().setLevel(logging.ERROR)
            warnings.filterwarnings("ignore", module="torchsde")
        self.nodes = load_in_process(Path(base), cpu=cpu)
        import comfy.model_management

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
        return list(self.node(node_id).define_schema().inputs)

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

    def run_graph(self, prompt: dict) -> dict:
        """Validate and execute an API-format graph; return {node_id: (output 0, output 1, …)} of every node."""
        import execution

        prompt_id = uuid.uuid4().hex
        valid = asyncio.run(execution.validate_prompt(prompt_id, prompt, None))
        if not valid[0]:
            raise ValueError(f"invalid graph: {valid[1]} {valid[3]}")
        executor = execution.PromptExecutor(StubServer(), cache_type=execution.CacheType.CLASSIC,
                                            cache_args={"lru": 0, "ram": 0})
        executor.execute(prompt, prompt_id, {}, valid[2])
        if not executor.success:
            errors = [d for e, d in executor.status_messages if e == "execution_error"]
            raise RuntimeError(f"graph failed: {errors}")
        outputs = {nid: executor.caches.outputs.get(nid) for nid in prompt}
        return {nid: tuple(o[0] for o in entry.outputs) for nid, entry in outputs.items() if entry is not None}

    # --- models and inputs --------------------------------------------------------------------------
    def checkpoint(self, name: str):
        """(model, clip, vae) of a tiny checkpoint ("sd15" or "sd3"), loaded once (outside inference mode, so
        that tests may patch and clone the model freely)."""
        if name not in self._checkpoints:
            cls = self.node("CheckpointLoaderSimple")
            self._checkpoints[name] = getattr(cls(), cls.FUNCTION)(ckpt_name=CHECKPOINTS[name])
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
    """Counts forward passes of the diffusion model via ComfyUI's unet wrapper hook: `calls` holds the batch
    rows of each pass (len = passes, sum = rows; clear it between counts).

    With clone=True `self.model` is a counting clone to pass to nodes; with clone=False the hook goes on
    `model` itself until `detach()` (so a counted run can double as the warm-up of the very model object
    that is timed afterwards).
    """

    def __init__(self, model, clone: bool = True):
        self.calls: list[int] = []
        self.model = model.clone() if clone else model
        self._previous = self.model.model_options.get("model_function_wrapper")
        self.model.set_model_unet_function_wrapper(self)

    def __deepcopy__(self, memo):
        return self  # ModelPatcher.clone deep-copies model_options: a node's clone counts into the same list

    def __call__(self, apply_model, args):
        self.calls.append(int(args["input"].shape[0]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    def count(self, fn) -> tuple[int, int]:
        """(model calls, batch rows summed over the calls) of one run of fn."""
        self.calls.clear()
        fn()
        return len(self.calls), sum(self.calls)

    def detach(self) -> None:
        if self._previous is None:
            self.model.model_options.pop("model_function_wrapper", None)
        else:
            self.model.model_options["model_function_wrapper"] = self._previous
