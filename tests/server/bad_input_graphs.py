"""The graph pieces and builders of the bad-input matrix (tests/server/bad_inputs.py, which re-exports them).

A builder takes the run's `Ctx` and returns an API-format graph: `base` (ids "1"–"5" are the SD1.5 checkpoint,
the 64 px input image, its latent and the two prompts; the other fixed ids are named below), the node under test
and an output node. Kept apart from the rows so each module stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hostlib import CHECKPOINTS

NAN = float("nan")
M, P, N, L = ["1", 0], ["4", 0], ["5", 0], ["3", 0]
SD3_MODEL, SD3_LATENT, SD3_PROMPT = ["12", 0], ["13", 0], ["14", 0]
NAN_LATENT = ["40", 0]  # LatentMultiply by NaN (a float widget passes NaN through min/max checks)
OTHER_SIZE_LATENT = ["41", 0]  # 64×32 px where the trajectory is 64×64
OTHER_ASPECT_MASK = ["42", 0]  # a 64×32 mask for a 64×64 image
BATCH2_MASK = ["44", 0]  # a batch of two masks for a batch of one
V_MODEL = ["45", 0]  # the SD1.5 model turned into V-prediction (ModelSamplingDiscrete)
FULL_MASK = ["46", 0]
GOOD_POINTS = '[{"source": [16, 32], "target": [40, 32]}]'


@dataclass(frozen=True)
class Ctx:
    """What the rows refer to, made once per run by the test's fixture."""

    image: str  # a 64×64 picture in the input folder
    files: dict[str, str]  # role -> a Load Trajectory value (input folder), see test_reliability.trajectory_files
    escape: str  # an absolute folder outside ComfyUI's folders (must stay empty)


@dataclass(frozen=True)
class Case:
    id: str
    node: str  # the pack node whose input is wrong
    build: Callable[[Ctx], dict]
    kind: str  # "validation" (HTTP 400) or "execution" (execution_error)
    expect: tuple[str, ...]  # substrings of the failure text: the input and the fix
    fails_at: str | None = None  # the node the server names, where not `node` (a core node running ours)
    needs: tuple[str, ...] = field(default=())  # node ids that must be registered (else the row is skipped)


# --- graph pieces ---------------------------------------------------------------------------------

def n(class_type: str, **inputs) -> dict:
    return {"class_type": class_type, "inputs": inputs}


def base(ctx: Ctx) -> dict:
    return {
        "1": n("CheckpointLoaderSimple", ckpt_name=CHECKPOINTS["sd15"]),
        "2": n("LoadImage", image=ctx.image),
        "3": n("VAEEncode", pixels=["2", 0], vae=["1", 2]),
        "4": n("CLIPTextEncode", text="a red square", clip=["1", 1]),
        "5": n("CLIPTextEncode", text="", clip=["1", 1]),
        "12": n("CheckpointLoaderSimple", ckpt_name=CHECKPOINTS["sd3"]),
        "13": n("VAEEncode", pixels=["2", 0], vae=["12", 2]),
        "14": n("CLIPTextEncode", text="a red square", clip=["12", 1]),
        "40": n("LatentMultiply", samples=L, multiplier=NAN),
        "41": n("EmptyLatentImage", width=64, height=32, batch_size=1),
        "42": n("SolidMask", value=1.0, width=64, height=32),
        "43": n("RepeatImageBatch", image=["2", 0], amount=2),
        "44": n("ImageToMask", image=["43", 0], channel="red"),
        "45": n("ModelSamplingDiscrete", model=M, sampling="v_prediction", zsnr=False),
        "46": n("SolidMask", value=1.0, width=64, height=64),
    }


KEEP = ("1", "3", "4", "5", "12", "13", "14")  # the models, prompts and latents: kept, even if unused


def prune(graph: dict, outputs: tuple[str, ...]) -> dict:
    """The nodes the outputs depend on, and KEEP: ComfyUI's cache drops the outputs of nodes that are not in
    the prompt, so the checkpoints stay in every graph (unconnected nodes are neither run nor validated)."""
    keep, todo = set(), [*outputs, *(k for k in KEEP if k in graph)]
    while todo:
        nid = todo.pop()
        if nid in keep:
            continue
        keep.add(nid)
        todo += [v[0] for v in graph[nid]["inputs"].values() if isinstance(v, list) and len(v) == 2]
    return {k: v for k, v in graph.items() if k in keep}


def with_latent_out(g: dict, src: list, vae: str = "1") -> dict:
    g["90"] = n("VAEDecode", samples=src, vae=[vae, 2])
    g["91"] = n("PreviewImage", images=["90", 0])
    return prune(g, ("91",))


def with_any_out(g: dict, src: list) -> dict:
    g["92"] = n("PreviewAny", source=src)
    return prune(g, ("92",))


def noise_adding(**kw) -> dict:
    return n("SDEEditNoiseAddingInversion", **({"model": M, "latent": L, "t0": 0.6, "steps": 2, "seed": 0,
                                                "scheduler": "simple", "independent_noise": False,
                                                "precision": "float32"} | kw))


def ddim(**kw) -> dict:
    return n("SDEEditDDIMInversion", **({"model": M, "positive": P, "negative": N, "cfg": 1.0,
                                         "cfg_schedule": "constant", "latent": L, "t0": 0.6, "steps": 2,
                                         "scheduler": "simple", "precision": "float32"} | kw))


def record(**kw) -> dict:
    return n("SDEEditCycleSDERecord", **({"model": M, "positive": P, "negative": N, "cfg": 1.0,
                                          "cfg_schedule": "constant", "latent": L, "t0": 0.6, "steps": 2, "seed": 0,
                                          "scheduler": "simple", "batch_size": 0, "independent_noise": False,
                                          "precision": "float32"} | kw))


def resample(**kw) -> dict:
    return n("SDEEditResample", **({"model": M, "positive": P, "negative": N, "cfg": 1.0, "cfg_schedule": "constant",
                                    "latent": ["6", 0], "trajectory": ["6", 1], "method": "cycle_sde", "seed": 0}
                                   | kw))


def copy_paste(**kw) -> dict:
    return n("SDEEditDragCopyPaste", **({"model": M, "latent": ["6", 0], "trajectory": ["6", 1],
                                         "points": GOOD_POINTS, "r": 2, "alpha": 1.1, "beta": 0.3, "seed": 0} | kw))


def sde_drag(**kw) -> dict:
    return n("SDEEditSDEDrag", **({"model": M, "positive": P, "negative": N, "latent": L, "points": GOOD_POINTS,
                                   "t0": 0.6, "steps": 2, "step_size": 2.0, "r": 2, "alpha": 1.1, "beta": 0.3,
                                   "cfg": 2.0, "seed": 0, "method": "sde", "multi_point": "simultaneous",
                                   "scheduler": "simple", "precision": "float32", "grid": "scheduler",
                                   "square_noise": "moved"} | kw))


def diffedit(**kw) -> dict:
    return n("SDEEditDiffEditMask", **({"model": M, "target": P, "reference": N, "latent": L, "cfg": 7.5,
                                        "noises": 2, "noise_strength": 0.5, "clamp_factor": 3.0, "threshold": 0.5,
                                        "seed": 0, "batch_size": 0} | kw))


def sync(**kw) -> dict:
    return n("SDEEditSyncSDE", **({"model": M, "source": P, "source_cfg": 1.0, "target": N, "target_cfg": 1.0,
                                   "latent": L, "steps": 2, "t0": 0.6, "scheduler": "simple", "seed": 0,
                                   "discretization": "euler_maruyama", "precision": "float32"} | kw))


# --- graph builders, one per node family ------------------------------------------------------------

def stage1_graph(node: Callable[..., dict], **kw) -> Callable[[Ctx], dict]:
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["6"] = node(**kw)
        return with_latent_out(g, ["6", 0], vae="12" if kw.get("model") == SD3_MODEL else "1")
    return build


def resample_graph(stage1: Callable[..., dict] = record, stage1_kw: dict | None = None, **kw) -> Callable[[Ctx], dict]:
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["6"] = stage1(**(stage1_kw or {}))
        g["7"] = resample(**kw)
        if "47" in str(kw.get("latent")):
            g["47"] = n("LatentMultiply", samples=["6", 0], multiplier=NAN)
        return with_latent_out(g, ["7", 0])
    return build


def custom_sampler_graph(sampler: dict, noise: str = "DisableNoise", sigmas: dict | None = None,
                         stage1: Callable[..., dict] = record, latent: list | None = None,
                         guider_positive: list = P) -> Callable[[Ctx], dict]:
    """stage 1 → SamplerCustomAdvanced with `sampler` (node "50"), a CFGGuider and the trajectory's sigmas."""
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["6"] = stage1()
        g["50"] = sampler
        g["51"] = n(noise) if noise == "DisableNoise" else n(noise, noise_seed=0)
        g["52"] = n("CFGGuider", model=M, positive=guider_positive, negative=N, cfg=1.0)
        g["53"] = sigmas or n("SDEEditTrajectorySigmas", trajectory=["6", 1])
        g["55"] = n("SetLatentNoiseMask", samples=L, mask=FULL_MASK)
        g["54"] = n("SamplerCustomAdvanced", noise=["51", 0], guider=["52", 0], sampler=["50", 0], sigmas=["53", 0],
                    latent_image=latent or ["6", 0])
        return with_latent_out(g, ["54", 0])
    return build


def node_graph(node: dict, out: int = 0, kind: str = "latent") -> Callable[[Ctx], dict]:
    """Base + stage 1 ("6") + `node` ("7"), its output `out` previewed."""
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["6"] = record()
        g["7"] = node
        if kind == "latent":
            return with_latent_out(g, ["7", out])
        if kind == "mask":
            g["93"] = n("MaskToImage", mask=["7", out])
            g["91"] = n("PreviewImage", images=["93", 0])
            return prune(g, ("91",))
        return with_any_out(g, ["7", out])
    return build


def load_graph(file_role: str | None = None, name: str | None = None, model: list = M) -> Callable[[Ctx], dict]:
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["8"] = n("SDEEditLoadTrajectory", model=model, trajectory_file=ctx.files[file_role] if name is None else name)
        g["7"] = resample(latent=["8", 0], trajectory=["8", 1], model=model)
        return with_latent_out(g, ["7", 0])
    return build


def load_name_graph(make: Callable[[Ctx], str]) -> Callable[[Ctx], dict]:
    return lambda ctx: load_graph(name=make(ctx))(ctx)


def save_graph(prefix: Callable[[Ctx], str] | str, trajectory: list | None = None) -> Callable[[Ctx], dict]:
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["6"] = record()
        g["7"] = n("SDEEditSaveTrajectory", trajectory=trajectory or ["6", 1],
                   filename_prefix=prefix(ctx) if callable(prefix) else prefix)
        return prune(g, ("7",))
    return build


def drag_points_graph(points: str, image: list | None = None) -> Callable[[Ctx], dict]:
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["7"] = n("SDEEditDragPoints", image=image or ["2", 0], points=points)
        return with_any_out(g, ["7", 0])
    return build


def copy_paste_graph(**kw) -> Callable[[Ctx], dict]:
    return node_graph(copy_paste(**kw))


def drag_graph(**kw) -> Callable[[Ctx], dict]:
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["7"] = sde_drag(**kw)
        return with_latent_out(g, ["7", 0])
    return build


def train_lora(**kw) -> dict:
    return n("SDEEditTrainImageLoRA", **({"model": M, "positive": P, "latent": L, "steps": 1, "rank": 2,
                                          "learning_rate": 2e-4, "seed": 0, "training_dtype": "float32"} | kw))


def train_graph(**kw) -> Callable[[Ctx], dict]:
    """Train Image LoRA ("60"), its loss previewed."""
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["60"] = train_lora(**kw)
        return with_any_out(g, ["60", 1])
    return build


def lora_drag_graph(train_kw: dict | None = None, lora: list | str | None = None, **kw) -> Callable[[Ctx], dict]:
    """SDE-Drag with a LoRA input: by default the one Train Image LoRA ("60", 1 step) makes of the SD1.5 model."""
    def build(ctx: Ctx) -> dict:
        g = base(ctx)
        g["60"] = train_lora(**(train_kw or {}))
        g["7"] = sde_drag(lora=["60", 0] if lora is None else lora, **kw)
        return with_latent_out(g, ["7", 0])
    return build

