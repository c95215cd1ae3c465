"""The bad-input matrix: every kind of wrong input a user can wire or type into the pack's nodes.

One row per case (`Case`): the node under test, a graph builder (API format; ids "1"–"5" are the
SD1.5 checkpoint, the 64 px input image, its latent and the two prompts), the kind of failure
(`validation`: the server refuses the graph with HTTP 400 and node_errors; `execution`: the prompt
runs and ends in an execution_error) and substrings the failure text must contain: the input's
name and the fix. `tests/server/test_reliability.py` runs every row through the real server.

Add a row whenever a node or an input is added: the matrix is data so it grows with the pack.
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


# --- the matrix -------------------------------------------------------------------------------------

MIN, MAX, MISMATCH = "smaller than min", "bigger than max", "return_type_mismatch"
CHANNELS_16 = ("latent has 16 channels but this model works on 4", "encode the image with this model's VAE")
NAN_FIX = ("latent contains NaN or infinite values", "fix")
NOT_JSON = ("points: not valid JSON", '[{"source": [x, y], "target": [x, y]}')
OUTSIDE = ("points: drag 0's target (80, 32) lies outside the 64×64 image",)
FAR_POINTS = '[{"source": [16, 32], "target": [80, 32]}]'
DIFFEDIT, SYNC, SYNC_SAMPLER = ("SDEEditDiffEditMask",), ("SDEEditSyncSDE",), ("SDEEditSyncSDESampler",)

NA, DD, REC, RES = "SDEEditNoiseAddingInversion", "SDEEditDDIMInversion", "SDEEditCycleSDERecord", "SDEEditResample"
CP, DRAG, DP = "SDEEditDragCopyPaste", "SDEEditSDEDrag", "SDEEditDragPoints"
SMP, TS, SAVE, LOAD = "SDEEditSampler", "SDEEditTrajectorySigmas", "SDEEditSaveTrajectory", "SDEEditLoadTrajectory"
SCA = "SamplerCustomAdvanced"

CASES: list[Case] = [
    # Noise-Adding Inversion
    Case("na-t0-zero", NA, stage1_graph(noise_adding, t0=0.0), "validation", ("t0", MIN, "0.01")),
    Case("na-t0-above-1", NA, stage1_graph(noise_adding, t0=1.5), "validation", ("t0", MAX, "1.0")),
    Case("na-t0-nan", NA, stage1_graph(noise_adding, t0=NAN), "execution", ("t0 must be in (0, 1]",)),
    Case("na-steps-zero", NA, stage1_graph(noise_adding, steps=0), "validation", ("steps", MIN, "of 1")),
    Case("na-steps-huge", NA, stage1_graph(noise_adding, steps=10**6), "validation", ("steps", MAX, "of 1000")),
    Case("na-latent-nan", NA, stage1_graph(noise_adding, latent=NAN_LATENT), "execution", NAN_FIX),
    Case("na-latent-16ch-on-sd15", NA, stage1_graph(noise_adding, latent=SD3_LATENT), "execution", CHANNELS_16),
    Case("na-latent-4ch-on-sd3", NA, stage1_graph(noise_adding, model=SD3_MODEL), "execution",
         ("latent has 4 channels but this model works on 16", "encode the image with this model's VAE")),
    Case("na-latent-is-an-image", NA, stage1_graph(noise_adding, latent=["2", 0]), "validation",
         (MISMATCH, "latent", "IMAGE")),
    # ComfyUI 0.3.75 does not check V3 combo values at validation: the nodes do, at execution.
    Case("na-scheduler-unknown", NA, stage1_graph(noise_adding, scheduler="bogus"), "execution",
         ("scheduler 'bogus' is not one of ComfyUI's", "simple")),
    Case("na-precision-unknown", NA, stage1_graph(noise_adding, precision="float16"), "execution",
         ("precision 'float16' is not one of float32, float64", "pick one")),
    # DDIM Inversion
    Case("ddim-cfg-nan", DD, stage1_graph(ddim, cfg=NAN), "execution", ("cfg must be a finite number",)),
    Case("ddim-cfg-negative", DD, stage1_graph(ddim, cfg=-1.0), "validation", ("cfg", MIN, "0.0")),
    Case("ddim-t0-nan", DD, stage1_graph(ddim, t0=NAN), "execution", ("t0 must be in (0, 1]",)),
    Case("ddim-steps-zero", DD, stage1_graph(ddim, steps=0), "validation", ("steps", MIN)),
    Case("ddim-latent-nan", DD, stage1_graph(ddim, latent=NAN_LATENT), "execution", NAN_FIX),
    Case("ddim-latent-16ch-on-sd15", DD, stage1_graph(ddim, latent=SD3_LATENT), "execution", CHANNELS_16),
    Case("ddim-cfg-schedule-unknown", DD, stage1_graph(ddim, cfg_schedule="cosine"), "execution",
         ("cfg_schedule 'cosine' is not one of constant, linear", "pick one of them")),
    # Cycle-SDE Record
    Case("rec-t0-zero", REC, stage1_graph(record, t0=0.0), "validation", ("t0", MIN)),
    Case("rec-t0-nan", REC, stage1_graph(record, t0=NAN), "execution", ("t0 must be in (0, 1]",)),
    Case("rec-steps-huge", REC, stage1_graph(record, steps=5000), "validation", ("steps", MAX)),
    Case("rec-batch-size-negative", REC, stage1_graph(record, batch_size=-1), "validation", ("batch_size", MIN)),
    Case("rec-cfg-huge", REC, stage1_graph(record, cfg=1000.0), "validation", ("cfg", MAX, "100")),
    Case("rec-cfg-nan", REC, stage1_graph(record, cfg=NAN), "execution", ("cfg must be a finite number",)),
    Case("rec-latent-nan", REC, stage1_graph(record, latent=NAN_LATENT), "execution", NAN_FIX),
    Case("rec-latent-16ch-on-sd15", REC, stage1_graph(record, latent=SD3_LATENT), "execution", CHANNELS_16),
    Case("rec-model-is-a-clip", REC, stage1_graph(record, model=["1", 1]), "validation", (MISMATCH, "model", "CLIP")),
    # Resample
    Case("res-trajectory-from-flow-model", RES,
         resample_graph(stage1_kw={"model": SD3_MODEL, "latent": SD3_LATENT, "positive": SD3_PROMPT,
                                   "negative": SD3_PROMPT}, latent=L),
         "execution", ("trajectory was recorded with another model", "record it again with this model")),
    Case("res-eps-trajectory-on-v-model", RES, resample_graph(model=V_MODEL), "execution",
         ("trajectory was recorded with another model", "record it again with this model")),
    Case("res-latent-other-size", RES, resample_graph(latent=OTHER_SIZE_LATENT), "execution",
         ("recorded for latents of shape [1, 4, 8, 8]", "the input is [1, 4, 4, 8]", "record it from this latent")),
    Case("res-latent-16ch-on-sd15", RES, resample_graph(latent=SD3_LATENT), "execution", CHANNELS_16),
    Case("res-latent-nan", RES, resample_graph(latent=["47", 0]), "execution", NAN_FIX),
    Case("res-mask-other-aspect", RES, resample_graph(mask=OTHER_ASPECT_MASK), "execution",
         ("mask is 64×32 px", "give a mask of the image's size")),
    Case("res-mask-other-batch", RES, resample_graph(mask=BATCH2_MASK), "execution",
         ("mask has a batch of 2 but the latent has 1", "give one mask or one per image")),
    Case("res-cycle-sde-on-ddim-trajectory", RES, resample_graph(stage1=ddim), "execution",
         ("Cycle-SDE replays recorded residuals", "record it with the Cycle-SDE node")),
    Case("res-second-order-with-mask", RES, resample_graph(method="dpmpp_2m", mask=FULL_MASK), "execution",
         ("mask: dpmpp_2m runs ComfyUI's own solver", "use ddim (ODE) or ddpm / cycle_sde (SDE) with a mask")),
    Case("res-method-unknown", RES, resample_graph(method="euler"), "execution",
         ("method 'euler' is not one of ddim, ddpm, cycle_sde, dpmpp_2m, dpmpp_2m_sde", "pick one")),
    Case("res-trajectory-is-a-latent", RES, resample_graph(trajectory=L), "validation",
         (MISMATCH, "trajectory", "SDE_TRAJECTORY")),
    Case("res-cfg-nan", RES, resample_graph(cfg=NAN), "execution", ("cfg must be a finite number",)),
    # Sampler (for SamplerCustomAdvanced)
    Case("smp-noise-not-disabled", SMP,
         custom_sampler_graph(n("SDEEditSampler", trajectory=["6", 1], method="cycle_sde", seed=0), "RandomNoise"),
         "execution", ("noise:", "connect a Disable Noise node"), fails_at=SCA),
    Case("smp-sigmas-not-the-trajectory", SMP,
         custom_sampler_graph(n("SDEEditSampler", trajectory=["6", 1], method="cycle_sde", seed=0),
                              sigmas=n("BasicScheduler", model=M, scheduler="simple", steps=5, denoise=1.0)),
         "execution", ("recorded at other noise levels", "record it with the same steps, t0 and scheduler"),
         fails_at=SCA),
    Case("smp-cycle-sde-on-noise-adding", SMP,
         custom_sampler_graph(n("SDEEditSampler", trajectory=["6", 1], method="cycle_sde", seed=0),
                              stage1=noise_adding),
         "execution", ("Cycle-SDE replays recorded residuals", "record it with the Cycle-SDE node")),
    Case("smp-latent-other-size", SMP,
         custom_sampler_graph(n("SDEEditSampler", trajectory=["6", 1], method="ddim", seed=0),
                              latent=OTHER_SIZE_LATENT),
         "execution", ("recorded for latents of shape", "record it from this latent"), fails_at=SCA),
    Case("smp-trajectory-is-a-latent", SMP,
         custom_sampler_graph(n("SDEEditSampler", trajectory=L, method="ddim", seed=0)), "validation",
         (MISMATCH, "trajectory")),
    # Trajectory Sigmas
    Case("ts-trajectory-is-a-latent", TS, node_graph(n("SDEEditTrajectorySigmas", trajectory=L), kind="any"),
         "validation", (MISMATCH, "trajectory", "LATENT")),
    Case("ts-trajectory-is-sigmas", TS,
         lambda ctx: with_any_out(base(ctx) | {
             "60": n("BasicScheduler", model=M, scheduler="simple", steps=2, denoise=1.0),
             "7": n("SDEEditTrajectorySigmas", trajectory=["60", 0])}, ["7", 0]),
         "validation", (MISMATCH, "trajectory", "SIGMAS")),
    # Save Trajectory: never outside the output folder
    Case("save-prefix-dotdot", SAVE, save_graph("../escaped/trajectory"), "execution",
         ("filename_prefix '../escaped/trajectory' is not a path inside the output folder",)),
    Case("save-prefix-absolute", SAVE, save_graph(lambda ctx: f"{ctx.escape}/trajectory"), "execution",
         ("is not a path inside the output folder",)),
    Case("save-prefix-nul", SAVE, save_graph("a\x00b"), "execution",
         ("filename_prefix 'a\\x00b' holds a NUL character", "use letters, digits")),
    Case("save-prefix-name-too-long", SAVE, save_graph("sde_edit/" + "x" * 300), "execution",
         ("filename_prefix: the name 'xxx", "is over 200 bytes", "shorten it")),
    Case("save-trajectory-is-a-latent", SAVE, save_graph("x", trajectory=L), "validation",
         (MISMATCH, "trajectory")),
    # Load Trajectory: files from the user's disk
    Case("load-dotdot", LOAD, load_graph(name="../x.trajectory.safetensors"), "validation",
         ("trajectory_file", "is outside ComfyUI's input and output folders", "pick a file from the list")),
    Case("load-dotdot-to-an-existing-file", LOAD, load_name_graph(lambda ctx: f"../input/{ctx.files['good']}"),
         "validation", ("is outside ComfyUI's input and output folders", "pick a file from the list")),
    Case("load-absolute-outside", LOAD, load_graph(name="/etc/hostname"), "validation",
         ("is outside ComfyUI's input and output folders", "pick a file from the list")),
    Case("load-absolute-to-an-existing-file", LOAD, load_name_graph(lambda ctx: ctx.files["good_abs"]), "validation",
         ("is outside ComfyUI's input and output folders", "pick a file from the list")),
    Case("load-missing", LOAD, load_graph(name="reliability/nope.trajectory.safetensors"), "validation",
         ("does not exist", "save one with SDE Edit Save Trajectory")),
    Case("load-temporary-file", LOAD, load_graph("tmp"), "validation", ("does not exist",)),
    Case("load-empty-name", LOAD, load_graph(name=""), "validation", ("trajectory_file",)),
    Case("load-truncated", LOAD, load_graph("truncated"), "execution",
         ("is damaged or not an SDE Edit trajectory", "record and save it again")),
    Case("load-empty-file", LOAD, load_graph("empty"), "execution",
         ("is damaged or not an SDE Edit trajectory", "record and save it again")),
    Case("load-not-safetensors", LOAD, load_graph("text"), "execution",
         ("is damaged or not an SDE Edit trajectory", "record and save it again")),
    Case("load-tampered-header", LOAD, load_graph("bad_header"), "execution",
         ("is damaged or not an SDE Edit trajectory", "record and save it again")),
    Case("load-no-header", LOAD, load_graph("no_header"), "execution",
         ("is damaged or not an SDE Edit trajectory", "record and save it again")),
    Case("load-other-version", LOAD, load_graph("version"), "execution",
         ("not an sde-edit trajectory of version 1 (version 0)", "record it again")),
    Case("load-newer-version", LOAD, load_graph("newer"), "execution",
         ("written by a newer sde-edit (trajectory version 99", "update the sde-edit node pack")),
    Case("load-foreign-format", LOAD, load_graph("foreign"), "execution",
         ("not an sde-edit trajectory (its format is 'other.trajectory'", "record it again")),
    Case("load-no-checksum", LOAD, load_graph("no_checksum"), "execution",
         ("has no checksum", "record and save it again")),
    Case("load-wrong-checksum", LOAD, load_graph("wrong_checksum"), "execution",
         ("does not match its checksum", "record and save it again")),
    *[Case(f"load-{role.replace('_', '-')}", LOAD, load_graph(role), "execution",
           ("does not match its checksum", "record and save it again"))
      for role in ("flipped_first", "flipped_mid", "flipped_last")],
    *[Case(f"load-{role.replace('_', '-')}", LOAD, load_graph(role), "execution",
           ("is damaged or not an SDE Edit trajectory", "record and save it again"))
      for role in ("torn_4", "torn_8", "torn_header", "torn_data", "torn_last")],
    Case("load-symlink-leading-out", LOAD, load_graph("link_out"), "validation",
         ("is outside ComfyUI's input and output folders", "pick a file from the list")),
    Case("load-tensor-missing", LOAD, load_graph("no_latents"), "execution",
         ("is damaged or not an SDE Edit trajectory", "record and save it again")),
    Case("load-tampered-shapes", LOAD, load_graph("shapes"), "execution",
         ("all latents and residuals must share one shape", "record and save it again")),
    Case("load-tampered-values", LOAD, load_graph("nan_values"), "execution",
         ("non-finite", "record and save it again")),
    Case("load-from-another-model", LOAD, load_graph("sd3"), "execution",
         ("trajectory was recorded with another model", "record it again with this model")),
    # Drag Copy-Paste
    Case("cp-points-empty-string", CP, copy_paste_graph(points=""), "execution", NOT_JSON),
    Case("cp-points-empty-list", CP, copy_paste_graph(points="[]"), "execution", ("points: give a non-empty list",)),
    Case("cp-points-malformed", CP, copy_paste_graph(points='[{"source": [1, 2]'), "execution", NOT_JSON),
    Case("cp-points-wrong-shape", CP, copy_paste_graph(points='[{"source": [1], "target": [2, 3]}]'), "execution",
         ("points: drag 0's source must be [x, y]",)),
    Case("cp-points-outside", CP, copy_paste_graph(points=FAR_POINTS), "execution", OUTSIDE),
    Case("cp-points-negative", CP, copy_paste_graph(points='[{"source": [-1, 3], "target": [8, 3]}]'), "execution",
         ("points: drag 0's source (-1, 3) lies outside the 64×64 image",)),
    Case("cp-points-odd-count", CP, copy_paste_graph(points='[{"x": 1, "y": 2}]'), "execution",
         ("points: 1 points is an odd count", "give them as source, target")),
    Case("cp-points-zero-length", CP, copy_paste_graph(points='[{"source": [9, 9], "target": [9, 9]}]'),
         "execution", ("points: drag 0 has zero length", "remove it")),
    Case("cp-points-nan", CP, copy_paste_graph(points='[{"source": [NaN, 1], "target": [2, 3]}]'), "execution",
         ("points: drag 0's source has a non-finite coordinate",)),
    Case("cp-points-target-missing", CP, copy_paste_graph(points='[{"source": [10, 10]}]'), "execution",
         ("points: drag 0 has no target", '{"source": [x, y], "target": [x, y]}')),
    Case("cp-alpha-nan", CP, copy_paste_graph(alpha=NAN), "execution", ("alpha must be a finite number",)),
    Case("cp-beta-above-1", CP, copy_paste_graph(beta=2.0), "validation", ("beta", MAX)),
    Case("cp-r-zero", CP, copy_paste_graph(r=0), "validation", ("r", MIN)),
    Case("cp-latent-nan", CP, copy_paste_graph(latent=NAN_LATENT), "execution", NAN_FIX),
    Case("cp-latent-16ch-on-sd15", CP, copy_paste_graph(latent=SD3_LATENT), "execution", CHANNELS_16),
    # SDE-Drag
    Case("drag-t0-zero", DRAG, drag_graph(t0=0.0), "validation", ("t0", MIN)),
    Case("drag-grid-unknown", DRAG, drag_graph(grid="uniform"), "execution",
         ("grid 'uniform' is not one of scheduler, paper",)),
    Case("drag-square-noise-unknown", DRAG, drag_graph(square_noise="new"), "execution",
         ("square_noise 'new' is not one of recorded, fresh, fresh_vacated, moved",)),
    Case("drag-t0-nan", DRAG, drag_graph(t0=NAN), "execution", ("t0 must be in (0, 1]",)),
    Case("drag-steps-zero", DRAG, drag_graph(steps=0), "validation", ("steps", MIN)),
    Case("drag-steps-huge", DRAG, drag_graph(steps=10**9), "validation", ("steps", MAX)),
    Case("drag-cfg-below-1", DRAG, drag_graph(cfg=0.5), "validation", ("cfg", MIN, "1.0")),
    Case("drag-cfg-nan", DRAG, drag_graph(cfg=NAN), "execution", ("cfg must be a finite number",)),
    Case("drag-step-size-zero", DRAG, drag_graph(step_size=0.0), "validation", ("step_size", MIN)),
    Case("drag-alpha-nan", DRAG, drag_graph(alpha=NAN), "execution", ("alpha must be a finite number",)),
    Case("drag-points-empty", DRAG, drag_graph(points="[]"), "execution", ("points: give a non-empty list",)),
    Case("drag-points-malformed", DRAG, drag_graph(points="[[1, 2], [3"), "execution", NOT_JSON),
    Case("drag-points-outside", DRAG, drag_graph(points=FAR_POINTS), "execution", OUTSIDE),
    Case("drag-mask-other-aspect", DRAG, drag_graph(mask=OTHER_ASPECT_MASK), "execution",
         ("mask is 64×32 px", "give a mask of the image's size")),
    Case("drag-mask-other-batch", DRAG, drag_graph(mask=BATCH2_MASK), "execution",
         ("mask has a batch of 2 but the latent has 1",)),
    Case("drag-latent-nan", DRAG, drag_graph(latent=NAN_LATENT), "execution", NAN_FIX),
    Case("drag-latent-16ch-on-sd15", DRAG, drag_graph(latent=SD3_LATENT), "execution", CHANNELS_16),
    Case("drag-method-unknown", DRAG, drag_graph(method="euler"), "execution",
         ("method 'euler' is not one of sde, ode", "pick one")),
    Case("drag-multi-point-unknown", DRAG, drag_graph(multi_point="all"), "execution",
         ("multi_point 'all' is not one of simultaneous, sequential", "pick one")),
    Case("drag-precision-unknown", DRAG, drag_graph(precision="bf16"), "execution",
         ("precision 'bf16' is not one of float32, float64",)),
    # Drag Points
    Case("dp-points-malformed", DP, drag_points_graph("[{"), "execution", NOT_JSON),
    Case("dp-points-outside", DP, drag_points_graph(FAR_POINTS), "execution", OUTSIDE),
    Case("dp-points-odd-count", DP, drag_points_graph('[{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6}]'),
         "execution", ("points: 3 points is an odd count",)),
    Case("dp-points-zero-length", DP, drag_points_graph('[{"source": [9, 9], "target": [9, 9]}]'), "execution",
         ("points: drag 0 has zero length",)),
    Case("dp-points-not-a-list", DP, drag_points_graph('{"source": [1, 2], "target": [3, 4]}'), "execution",
         ("points: give a non-empty list",)),
    Case("dp-image-is-a-mask", DP, drag_points_graph(GOOD_POINTS, image=FULL_MASK), "validation",
         (MISMATCH, "image", "MASK")),
    # DiffEdit Mask
    Case("de-noises-zero", "SDEEditDiffEditMask", node_graph(diffedit(noises=0), kind="mask"), "validation",
         ("noises", MIN), needs=DIFFEDIT),
    Case("de-noise-strength-1", "SDEEditDiffEditMask", node_graph(diffedit(noise_strength=1.0), kind="mask"),
         "validation", ("noise_strength", MAX), needs=DIFFEDIT),
    Case("de-threshold-above-1", "SDEEditDiffEditMask", node_graph(diffedit(threshold=2.0), kind="mask"),
         "validation", ("threshold", MAX), needs=DIFFEDIT),
    Case("de-cfg-nan", "SDEEditDiffEditMask", node_graph(diffedit(cfg=NAN), kind="mask"), "execution",
         ("cfg must be a finite number",), needs=DIFFEDIT),
    Case("de-latent-nan", "SDEEditDiffEditMask", node_graph(diffedit(latent=NAN_LATENT), kind="mask"), "execution",
         NAN_FIX, needs=DIFFEDIT),
    Case("de-latent-16ch-on-sd15", "SDEEditDiffEditMask", node_graph(diffedit(latent=SD3_LATENT), kind="mask"),
         "execution", CHANNELS_16, needs=DIFFEDIT),
    Case("de-target-from-another-encoder", "SDEEditDiffEditMask",
         node_graph(diffedit(target=SD3_PROMPT), kind="mask"), "execution",
         ("target and reference come from different text encoders",
          "encode every prompt with the CLIP of this model's checkpoint"),
         needs=DIFFEDIT),
    # Sync-SDE
    Case("sync-cfg-without-negative", "SDEEditSyncSDE", node_graph(sync(source_cfg=2.0)), "execution",
         ("negative:", "connect one"), needs=SYNC),
    Case("sync-t0-nan", "SDEEditSyncSDE", node_graph(sync(t0=NAN)), "execution", ("t0 must be in (0, 1]",),
         needs=SYNC),
    Case("sync-steps-zero", "SDEEditSyncSDE", node_graph(sync(steps=0)), "validation", ("steps", MIN), needs=SYNC),
    Case("sync-latent-nan", "SDEEditSyncSDE", node_graph(sync(latent=NAN_LATENT)), "execution", NAN_FIX,
         needs=SYNC),
    Case("sync-latent-16ch-on-sd15", "SDEEditSyncSDE", node_graph(sync(latent=SD3_LATENT)), "execution",
         CHANNELS_16, needs=SYNC),
    Case("sync-flow-from-pure-noise", "SDEEditSyncSDE",
         lambda ctx: with_latent_out(base(ctx) | {"7": sync(model=SD3_MODEL, latent=SD3_LATENT, source=SD3_PROMPT,
                                                             target=SD3_PROMPT, t0=1.0)}, ["7", 0], vae="12"),
         "execution", ("euler_maruyama", "flow model", "use the ddpm discretization"),
         needs=SYNC),
    Case("sync-discretization-unknown", "SDEEditSyncSDE", node_graph(sync(discretization="heun")), "execution",
         ("discretization 'heun' is not one of euler_maruyama, ddpm", "pick one of them"), needs=SYNC),
    # Sync-SDE Sampler
    Case("syncs-noise-not-disabled", "SDEEditSyncSDESampler",
         custom_sampler_graph(n("SDEEditSyncSDESampler", source=P, source_cfg=1.0, seed=0,
                                discretization="euler_maruyama", precision="float32"), "RandomNoise",
                              sigmas=n("BasicScheduler", model=M, scheduler="simple", steps=2, denoise=0.6),
                              latent=L),
         "execution", ("noise:", "connect a Disable Noise node"), fails_at=SCA, needs=SYNC_SAMPLER),
    Case("syncs-latent-with-noise-mask", "SDEEditSyncSDESampler",
         custom_sampler_graph(n("SDEEditSyncSDESampler", source=P, source_cfg=1.0, seed=0,
                                discretization="euler_maruyama", precision="float32"),
                              sigmas=n("BasicScheduler", model=M, scheduler="simple", steps=2, denoise=0.6),
                              latent=["55", 0]),
         "execution", ("latent: sync-SDE edits the whole latent", "remove its noise mask"), fails_at=SCA,
         needs=SYNC_SAMPLER),
]
