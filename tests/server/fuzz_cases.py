"""Fuzz cases for every node of the pack, generated from the server's own /object_info.

A case is one prompt: the graph of `bad_inputs.base` plus the providers below, the node under test at id
"7" with small valid inputs (`VALID`), one to three of its inputs changed (`Mutation`), and a sink on each
output. Case `i` of seed `s` depends on nothing but (s, i) and /object_info, so a failure replays:
`SDE_EDIT_FUZZ_SEED=s SDE_EDIT_FUZZ_ONLY=i make fuzz`.

What a mutation draws, by the input's type in /object_info:
- INT / FLOAT: in range, the bounds, just past them, far past them, negative, NaN, ±Inf, a string, null;
- STRING: short text, empty, a 1 MB string, NUL and control characters, paths out of the folders,
  unicode, JSON fragments; `points` also gets random drags (inside, outside, past the drag limit);
- COMBO: an option, an unknown value, a number, null; BOOLEAN: true/false, a string, a number;
- a link (MODEL, LATENT, ...): another provider of the same type (a flow model, a NaN, 16-channel,
  other-size, batched or 5-D video latent, a mask of another size ...), a provider of another type,
  removed, a link to a missing node or a missing output, a malformed link, a plain value.

Cost inputs (`COST`: steps, noises, batch sizes) are drawn in range from their minimum up to a small cap so
the cases that run stay small; their bounds and out-of-range values are drawn as for any input.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import bad_inputs as bi

n = bi.n
HUGE = "x" * 1_000_000
COST = {"steps": 4, "noises": 4, "batch_size": 3, "size": 64, "rank": 8}
IMAGE_PX = 64  # the base image, bad_inputs.Ctx.image

# Extra upstream nodes (ids not used by bad_inputs.base); all are cheap on the tiny checkpoints.
EXTRA = {
    "6": bi.record(),
    "61": bi.ddim(),
    "62": bi.noise_adding(),
    "63": bi.record(model=bi.SD3_MODEL, latent=bi.SD3_LATENT, positive=bi.SD3_PROMPT, negative=bi.SD3_PROMPT),
    "20": n("SDEEditLoadShapesModel", weights="shapes_cond_32.safetensors"),
    "21": n("SDEEditShapesPrompt", text="red disc"),
    "22": n("SDEEditShapesScene", text="red disc", x=0.3, y=0.5, radius=0.15, seed=0, size=32),
    "64": n("RepeatLatentBatch", samples=bi.L, amount=2),
    "65": n("EmptyLatentImage", width=16, height=16, batch_size=1),
    "66": n("EmptyHunyuanLatentVideo", width=64, height=64, length=5, batch_size=1),
    "67": n("SolidMask", value=0.0, width=64, height=64),
    "68": bi.train_lora(),
    "69": bi.train_lora(model=bi.SD3_MODEL, latent=bi.SD3_LATENT, positive=bi.SD3_PROMPT),
}
PROVIDERS: dict[str, list[list]] = {  # per type, the first is the one VALID uses
    "MODEL": [bi.M, bi.SD3_MODEL, bi.V_MODEL, ["20", 0]],
    "CONDITIONING": [bi.P, bi.N, bi.SD3_PROMPT, ["21", 0]],
    "LATENT": [bi.L, bi.SD3_LATENT, bi.NAN_LATENT, bi.OTHER_SIZE_LATENT, ["64", 0], ["65", 0], ["66", 0],
               ["6", 0]],
    "SDE_TRAJECTORY": [["6", 1], ["61", 1], ["62", 1], ["63", 1], ["8", 1]],
    "IMAGE": [["2", 0], ["43", 0], ["22", 0]],
    "MASK": [bi.FULL_MASK, bi.OTHER_ASPECT_MASK, bi.BATCH2_MASK, ["67", 0], ["22", 1]],
    "VAE": [["1", 2], ["12", 2], ["20", 1]],
    "LORA_MODEL": [["68", 0], ["69", 0]],
}
LORA_FILE = "fuzz.safetensors"  # test_fuzz writes it into the server's loras folder
ONE_DRAG = bi.GOOD_POINTS


def valid_inputs(load_file: str) -> dict[str, dict]:
    """Small, valid inputs of every pack node (the starting point each mutation changes)."""
    sampler_chain = {"trajectory": ["6", 1], "method": "cycle_sde", "seed": 0}
    return {
        "SDEEditNoiseAddingInversion": bi.noise_adding()["inputs"],
        "SDEEditDDIMInversion": bi.ddim()["inputs"],
        "SDEEditCycleSDERecord": bi.record()["inputs"],
        "SDEEditResample": bi.resample()["inputs"],
        "SDEEditSampler": sampler_chain,
        "SDEEditTrajectorySigmas": {"trajectory": ["6", 1]},
        "SDEEditSaveTrajectory": {"trajectory": ["6", 1], "filename_prefix": "fuzz/trajectory"},
        "SDEEditLoadTrajectory": {"model": bi.M, "trajectory_file": load_file},
        "SDEEditDragCopyPaste": bi.copy_paste()["inputs"],
        "SDEEditSDEDrag": bi.sde_drag()["inputs"],
        "SDEEditDragPoints": {"image": ["2", 0], "points": ONE_DRAG},
        "SDEEditDiffEditMask": bi.diffedit()["inputs"],
        "SDEEditSyncSDE": bi.sync()["inputs"],
        "SDEEditSyncSDESampler": {"source": bi.P, "source_cfg": 1.0, "seed": 0, "discretization": "euler_maruyama",
                                  "precision": "float32"},
        "SDEEditLoadShapesModel": {"weights": "shapes_cond_32.safetensors"},
        "SDEEditShapesPrompt": {"text": "red disc"},
        "SDEEditShapesScene": {"text": "red disc", "x": 0.3, "y": 0.5, "radius": 0.15, "seed": 0, "size": 32},
        "SDEEditTrainImageLoRA": bi.train_lora()["inputs"],
        "SDEEditLoadLoRA": {"lora_name": LORA_FILE},
    }


@dataclass(frozen=True)
class Mutation:
    input: str
    kind: str  # what was drawn, e.g. "above_max", "wrong_type_link", "removed"
    value: object  # the value put in the prompt (the REMOVED marker for a removed input)

    def describe(self) -> str:
        shown = json.dumps(self.value)[:60] if self.value is not REMOVED else "-"
        return f"{self.input}={self.kind}({shown})"


REMOVED = object()


@dataclass(frozen=True)
class FuzzCase:
    index: int
    node: str
    mutations: tuple[Mutation, ...]
    graph: dict

    def describe(self) -> str:
        return f"case {self.index}: {self.node} " + ", ".join(m.describe() for m in self.mutations)


# --- values ---------------------------------------------------------------------------------------

def number_value(rng: random.Random, name: str, spec: dict, is_int: bool) -> tuple[str, object]:
    lo, hi = spec.get("min", -1e6), spec.get("max", 1e6)
    cap = min(hi, lo + COST[name]) if name in COST else hi
    step = 1 if is_int else (hi - lo) * 1e-3 or 1e-3
    kinds = {
        "in_range": lambda: rng.randint(lo, cap) if is_int else rng.uniform(lo, cap),
        "min": lambda: lo, "max": lambda: hi,
        "below_min": lambda: lo - step, "above_max": lambda: hi + step,
        "far_above": lambda: 10**30 if is_int else 1e308, "negative": lambda: -5 if is_int else -5.5,
        "nan": lambda: float("nan"), "inf": lambda: float("inf"), "minus_inf": lambda: float("-inf"),
        "string": lambda: rng.choice(["abc", "", "1e3", HUGE]), "null": lambda: None,
        "bool": lambda: rng.choice([True, False]),
    }
    if is_int:
        kinds["fraction"] = lambda: lo + 0.5
    kind = rng.choice(list(kinds))
    return kind, kinds[kind]()


def points_value(rng: random.Random) -> tuple[str, object]:
    k = rng.choice([0, 1, 1, 2, 3, 65, 200])
    hi = rng.choice([IMAGE_PX - 1, IMAGE_PX + 20])
    coord = (lambda: rng.randint(-8, hi)) if rng.random() < 0.7 else (lambda: round(rng.uniform(-8, hi), 2))
    if rng.random() < 0.2:  # the editor's flat form
        pts = [{"x": coord(), "y": coord()} for _ in range(2 * k + rng.choice([0, 0, 1]))]
    else:
        pts = [{"source": [coord(), coord()], "target": [coord(), coord()]} for _ in range(k)]
    return f"random_drags_{k}", json.dumps(pts)


def string_value(rng: random.Random, name: str) -> tuple[str, object]:
    if name == "points" and rng.random() < 0.5:
        return points_value(rng)
    kinds = {
        "short": lambda: rng.choice(["red disc", "blue square", "a", "sde_edit/x"]),
        "empty": lambda: "", "blank": lambda: "   \n\t", "huge": lambda: HUGE,
        "nul": lambda: "a\x00b", "control": lambda: "\x1b[31m\r\x07",
        "dotdot": lambda: "../../escaped/x", "absolute": lambda: "/tmp/sde_edit_fuzz_escape/x",
        "unicode": lambda: "日本語 ✓ \u202e", "json_fragment": lambda: rng.choice(["[", "{}", "null", "[[1, 2], [3"]),
        "number": lambda: rng.choice([0, 1.5, -3]), "null": lambda: None,
    }
    kind = rng.choice(list(kinds))
    return kind, kinds[kind]()


def combo_value(rng: random.Random, options: list) -> tuple[str, object]:
    kinds = {
        "option": lambda: rng.choice(options) if options else "",
        "unknown": lambda: "no_such_option", "empty": lambda: "", "number": lambda: 3, "null": lambda: None,
        "huge": lambda: HUGE, "dotdot": lambda: "../../etc/hostname",
    }
    kind = rng.choice(list(kinds))
    return kind, kinds[kind]()


def boolean_value(rng: random.Random) -> tuple[str, object]:
    kind = rng.choice(["true", "false", "string", "number", "null"])
    return kind, {"true": True, "false": False, "string": "yes", "number": 2, "null": None}[kind]


def link_value(rng: random.Random, type_: str) -> tuple[str, object]:
    same = PROVIDERS.get(type_, [])
    others = [p for t, ps in PROVIDERS.items() if t != type_ for p in ps]
    kinds = {
        "other_provider": lambda: rng.choice(same[1:] or same or others),
        "wrong_type_link": lambda: rng.choice(others),
        "removed": lambda: REMOVED,
        "missing_node": lambda: ["999", 0],
        "missing_output": lambda: [rng.choice(same or others)[0], 9],
        "malformed_link": lambda: rng.choice([["1"], ["1", 0, 0], ["1", "zero"]]),
        "plain_value": lambda: rng.choice([1.0, "model", None]),
    }
    if not same:
        del kinds["other_provider"]
    kind = rng.choice(list(kinds))
    if kind == "other_provider":  # twice as likely: the realistic wrong wiring
        kind = rng.choice(["other_provider", "other_provider", *kinds])
    return kind, kinds[kind]()


def draw(rng: random.Random, name: str, spec: list, optional: bool) -> tuple[str, object]:
    type_, opts = spec[0], (spec[1] if len(spec) > 1 else {})
    if isinstance(type_, list) or type_ == "COMBO":
        return combo_value(rng, type_ if isinstance(type_, list) else opts.get("options", []))
    if type_ in ("INT", "FLOAT"):
        return number_value(rng, name, opts, type_ == "INT")
    if type_ == "STRING":
        return string_value(rng, name)
    if type_ == "BOOLEAN":
        return boolean_value(rng)
    if optional and rng.random() < 0.3:
        same = PROVIDERS.get(type_, [])
        if same:
            return "optional_connected", rng.choice(same)
    return link_value(rng, type_)


# --- graphs ---------------------------------------------------------------------------------------

def sinks(node: str, outputs: list[str]) -> dict:
    """A sink on each output of node "7" (PreviewAny shows anything; a SAMPLER runs in SamplerCustomAdvanced)."""
    g: dict = {}
    for k, out in enumerate(outputs):
        if out == "SAMPLER":
            sync = node == "SDEEditSyncSDESampler"
            g |= {
                "51": n("DisableNoise"),
                "52": n("CFGGuider", model=bi.M, positive=bi.P, negative=bi.N, cfg=1.0),
                "53": (n("BasicScheduler", model=bi.M, scheduler="simple", steps=2, denoise=0.6) if sync
                       else n("SDEEditTrajectorySigmas", trajectory=["6", 1])),
                "54": n("SamplerCustomAdvanced", noise=["51", 0], guider=["52", 0], sampler=["7", k],
                        sigmas=["53", 0], latent_image=bi.L if sync else ["6", 0]),
                f"9{k}": n("PreviewAny", source=["54", 0]),
            }
        else:
            g[f"9{k}"] = n("PreviewAny", source=["7", k])
    return g


def make_case(index: int, seed: int, info: dict, nodes: list[str], ctx: bi.Ctx, load_file: str) -> FuzzCase:
    rng = random.Random(f"sde-edit-fuzz:{seed}:{index}")
    node = nodes[index % len(nodes)]  # round robin: any slice of consecutive cases covers every node
    spec = info[node]
    inputs = dict(valid_inputs(load_file)[node])
    declared = {name: (s, sect == "optional") for sect in ("required", "optional")
                for name, s in spec["input"].get(sect, {}).items()}
    mutations = []
    if rng.random() < 0.15:  # every widget at a random in-range value, nothing else wrong
        for name, (s, _) in declared.items():
            if s[0] in ("INT", "FLOAT") or isinstance(s[0], list) or s[0] in ("COMBO", "BOOLEAN"):
                kind, value = draw_in_range(rng, name, s)
                inputs[name] = value
                mutations.append(Mutation(name, kind, value))
    else:
        for name in rng.sample(list(declared), k=min(len(declared), rng.choice([1, 1, 1, 2, 3]))):
            kind, value = draw(rng, name, *declared[name])
            if value is REMOVED:
                inputs.pop(name, None)
            else:
                inputs[name] = value
            mutations.append(Mutation(name, kind, value))
    g = bi.base(ctx) | EXTRA | {"8": n("SDEEditLoadTrajectory", model=bi.M, trajectory_file=load_file),
                                 "7": {"class_type": node, "inputs": inputs}}
    g |= sinks(node, spec["output"])
    outs = tuple(k for k in g if g[k]["class_type"] in ("PreviewAny",)) or ("7",)
    if spec.get("output_node"):
        outs = (*outs, "7")
    return FuzzCase(index, node, tuple(mutations), prune_links(g, outs))


def draw_in_range(rng: random.Random, name: str, spec: list) -> tuple[str, object]:
    type_, opts = spec[0], (spec[1] if len(spec) > 1 else {})
    if type_ in ("INT", "FLOAT"):
        lo, hi = opts.get("min", 0), opts.get("max", 100)
        hi = min(hi, lo + COST[name]) if name in COST else hi
        return "in_range", (rng.randint(lo, hi) if type_ == "INT" else rng.uniform(lo, hi))
    if type_ == "BOOLEAN":
        return "in_range", rng.random() < 0.5
    options = type_ if isinstance(type_, list) else opts.get("options", [])
    return "option", rng.choice(options) if options else ""


def prune_links(g: dict, outputs: tuple[str, ...]) -> dict:
    """bad_inputs.prune, tolerant of the malformed links a case holds (they are left for the server to judge)."""
    keep, todo = set(), [*outputs, *(k for k in bi.KEEP if k in g)]
    while todo:
        nid = todo.pop()
        if nid in keep or nid not in g:
            continue
        keep.add(nid)
        todo += [v[0] for v in g[nid]["inputs"].values()
                 if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)]
    return {k: v for k, v in g.items() if k in keep}


def cases(info: dict, nodes: list[str], seed: int, indices, ctx: bi.Ctx, load_file: str) -> list[FuzzCase]:
    return [make_case(i, seed, info, nodes, ctx, load_file) for i in indices]
