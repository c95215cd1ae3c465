"""The example workflows: each defined once here as an API-format graph, written as UI workflows.

`example_workflows/*.json` (what ComfyUI's template browser shows) are generated from these
graphs and the server's /object_info, so the saved files and the graphs the tests run cannot
drift apart: the server tier runs every graph (on the tiny checkpoints), the browser tier loads
every file in the real frontend and checks it turns back into the same graph, and a test fails
when a file is out of date. Regenerate with `make workflows`.

Only core nodes and this pack's nodes appear in them. The shapes examples are in workflows_shapes.py, the
settings and the stage nodes the graphs share in workflow_nodes.py; WORKFLOWS here lists them all.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
from dataclasses import replace

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hostlib import ROOT, ComfyServer  # noqa: E402
from workflow_nodes import LORA_WIDGETS, Settings, ddim_inversion, diffedit_mask, record, resample  # noqa: E402
from workflow_ui import frontend_blueprint, to_ui  # noqa: E402
from workflows_shapes import shapes_drag, shapes_drag_lora, shapes_generate, shapes_prompt_change  # noqa: E402

OUT_DIR = ROOT / "example_workflows"
SHIPPED = Settings()  # the settings the examples ship with


def _base(s: Settings, source: str, target: str | None = None, negative: str = "") -> dict:
    g = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": s.ckpt}},
        "2": {"class_type": "LoadImage", "inputs": {"image": s.image}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": source, "clip": ["1", 1]}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["1", 1]}},
    }
    if target is not None:
        g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": target, "clip": ["1", 1]}}
    return g


def _finish(g: dict, latent_from: str, prefix: str) -> dict:
    g["20"] = {"class_type": "VAEDecode", "inputs": {"samples": [latent_from, 0], "vae": ["1", 2]}}
    g["21"] = {"class_type": "SaveImage", "inputs": {"images": ["20", 0], "filename_prefix": prefix}}
    return g


def reconstruction(s: Settings) -> dict:
    """Cycle-SDE with nothing edited: the output is the input (a check of model, settings and precision)."""
    g = _base(s, "a photo")
    g["10"] = record(s, "4", 7.5, 0.8, "float64")
    g["11"] = resample("4", "10", "cycle_sde", 7.5)
    return _finish(g, "11", "sde_edit/reconstruction")


def prompt_change_cycle_sde(s: Settings) -> dict:
    """CycleDiffusion-style editing: record with the source prompt, replay with the target (SDE)."""
    g = _base(s, "a photo of a cat", "a photo of a dog")
    g["10"] = record(s, "4", 7.5, 0.7, "float64")
    g["11"] = resample("6", "10", "cycle_sde", 7.5)
    return _finish(g, "11", "sde_edit/prompt_change_sde")


def prompt_change_ddim(s: Settings) -> dict:
    """The ODE baseline: DDIM-invert with the source prompt, DDIM-sample with the target."""
    g = _base(s, "a photo of a cat", "a photo of a dog")
    g["10"] = ddim_inversion(s, "4", 1.0, 0.7)
    g["11"] = resample("6", "10", "ddim", 7.5)
    return _finish(g, "11", "sde_edit/prompt_change_ode")


def inpaint_sde(s: Settings) -> dict:
    """Inpaint-SDE: noise the image up to t0, then DDPM back down; outside the mask the trajectory is kept."""
    g = _base(s, "a photo", negative="blurry")
    g["10"] = {"class_type": "SDEEditNoiseAddingInversion", "inputs": {
        "model": ["1", 0], "latent": ["3", 0], "t0": 0.8, "steps": s.steps, "seed": 0, "scheduler": "simple",
        "independent_noise": False, "precision": "float32"}}
    g["11"] = resample("4", "10", "ddpm", 5.0, mask=["2", 1])
    return _finish(g, "11", "sde_edit/inpaint_sde")


def inpaint_ode(s: Settings) -> dict:
    """Inpaint-ODE, the baseline: DDIM inversion up, DDIM down; outside the mask the inversion is kept."""
    g = _base(s, "a photo", negative="blurry")
    g["10"] = ddim_inversion(s, "4", 1.0, 0.8)
    g["11"] = resample("4", "10", "ddim", 5.0, mask=["2", 1])
    return _finish(g, "11", "sde_edit/inpaint_ode")


def diffedit_sde(s: Settings) -> dict:
    """DiffEdit-SDE: the automatic mask, Cycle-SDE record with the source prompt, replay with the target."""
    g = _base(s, "a photo of a cat", "a photo of a dog")
    g["7"] = diffedit_mask()
    g["10"] = record(s, "4", 7.5, 0.5, "float64")
    g["11"] = resample("6", "10", "cycle_sde", 7.5, mask=["7", 0])
    return _finish(g, "11", "sde_edit/diffedit_sde")


def diffedit_ode(s: Settings) -> dict:
    """DiffEdit-ODE (DiffEdit itself): the mask, DDIM inversion with the source prompt, DDIM with the target."""
    g = _base(s, "a photo of a cat", "a photo of a dog")
    g["7"] = diffedit_mask()
    g["10"] = ddim_inversion(s, "4", 1.0, 0.5)
    g["11"] = resample("6", "10", "ddim", 7.5, mask=["7", 0])
    return _finish(g, "11", "sde_edit/diffedit_ode")


def _drag(s: Settings, method: str) -> dict:
    return {"class_type": "SDEEditSDEDrag", "inputs": {
        "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent": ["3", 0], "points": s.points,
        "t0": 0.6, "steps": s.steps, "step_size": 2.0, "r": 5, "alpha": 1.1, "beta": 0.3, "cfg": 3.0, "seed": 0,
        "method": method, "multi_point": "simultaneous", "scheduler": "simple", "precision": "float32",
        "grid": "scheduler", "square_noise": "moved", **LORA_WIDGETS}}


def sde_drag(s: Settings) -> dict:
    """SDE-Drag in one node (Algorithm 1): the drag in sub-steps of 2 latent px, each a Cycle-SDE cycle."""
    g = _base(s, "a photo")
    g["10"] = _drag(s, "sde")
    return _finish(g, "10", "sde_edit/sde_drag")


def ode_drag(s: Settings) -> dict:
    """ODE-Drag, the baseline: DDIM inversion, the same paste, DDIM back."""
    g = _base(s, "a photo")
    g["10"] = _drag(s, "ode")
    return _finish(g, "10", "sde_edit/ode_drag")


def sde_drag_primitives(s: Settings) -> dict:
    """One SDE-Drag sub-step wired from the stage nodes: record, copy-paste, Cycle-SDE back with CFG 1 -> 3."""
    g = _base(s, "a photo")
    g["10"] = record(s, "4", 3.0, 0.6, "float32")
    g["10"]["inputs"]["cfg_schedule"] = "linear"
    g["11"] = {"class_type": "SDEEditDragCopyPaste", "inputs": {
        "model": ["1", 0], "latent": ["10", 0], "trajectory": ["10", 1], "points": s.points, "r": 5, "alpha": 1.1,
        "beta": 0.3, "seed": 0}}
    g["12"] = resample("4", "10", "cycle_sde", 3.0)
    g["12"]["inputs"] |= {"latent": ["11", 0], "cfg_schedule": "linear"}
    return _finish(g, "12", "sde_edit/sde_drag_primitives")


def _sync(s: Settings, steps: int, source: str, target: str, source_cfg: float, target_cfg: float, t0: float,
          negative: str | None) -> dict:
    inputs = {"model": ["1", 0], "source": [source, 0], "source_cfg": source_cfg, "target": [target, 0],
              "target_cfg": target_cfg, "latent": ["3", 0], "steps": steps, "t0": t0, "scheduler": "simple", "seed": 0,
              "discretization": "euler_maruyama", "precision": "float32", "resample": False}
    if negative is not None:
        inputs["negative"] = [negative, 0]
    return {"class_type": "SDEEditSyncSDE", "inputs": inputs}


def sync_sde_flux(s: Settings) -> dict:
    """sync-SDE on a flow model as the authors run it on FLUX.1-dev: guidance 1.0 on both prompts, no CFG,
    28 steps starting at step 4 (steps 24, t0 24/28 ≈ 0.86), Euler-Maruyama."""
    g = _base(replace(s, ckpt=s.flow_ckpt), "a photo of a cat", "a photo of a dog")
    del g["5"]  # no negative prompt: guidance-distilled
    g["7"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["4", 0], "guidance": 1.0}}
    g["8"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["6", 0], "guidance": 1.0}}
    g["10"] = _sync(s, s.flow_steps, "7", "8", 1.0, 1.0, 0.86, None)
    return _finish(g, "10", "sde_edit/sync_sde_flux")


def sync_sde_sd(s: Settings) -> dict:
    """sync-SDE on an SD-family (EPS) model: the source prompt at CFG 1, the target at CFG 2 (CycleDiffusion's
    choice), one negative prompt for both; the source and target passes of a step are one batch."""
    g = _base(s, "a photo of a cat", "a photo of a dog")
    g["10"] = _sync(s, s.steps, "4", "6", 1.0, 2.0, 0.7, "5")
    return _finish(g, "10", "sde_edit/sync_sde_sd")


WORKFLOWS = {
    "sde_edit_sde_drag": sde_drag,
    "sde_edit_sde_drag_primitives": sde_drag_primitives,
    "sde_edit_ode_drag": ode_drag,
    "sde_edit_reconstruction": reconstruction,
    "sde_edit_prompt_change_cycle_sde": prompt_change_cycle_sde,
    "sde_edit_prompt_change_ddim": prompt_change_ddim,
    "sde_edit_inpaint_sde": inpaint_sde,
    "sde_edit_inpaint_ode": inpaint_ode,
    "sde_edit_diffedit_sde": diffedit_sde,
    "sde_edit_diffedit_ode": diffedit_ode,
    "sde_edit_sync_sde_flux": sync_sde_flux,
    "sde_edit_sync_sde_sd": sync_sde_sd,
    "sde_edit_shapes_generate": shapes_generate,
    "sde_edit_shapes_prompt_change": shapes_prompt_change,
    "sde_edit_shapes_drag": shapes_drag,
    "sde_edit_shapes_drag_lora": shapes_drag_lora,
}


def drag_image_chain(s: Settings) -> dict:
    """Load Image → Drag Points → SDE-Drag (between VAE Encode and VAE Decode) → Save Image: the graph the blueprint
    is cut from, and (with the blueprint in the middle) the graph the browser tier rebuilds."""
    g = sde_drag(s)
    g["8"] = {"class_type": "SDEEditDragPoints", "inputs": {"image": ["2", 0], "points": s.points}}
    g["10"]["inputs"]["points"] = ["8", 0]
    return g


# Subgraph blueprints (subgraphs/<name>.json; the frontend lists them in its node library under the file's
# name): {name: (source graph, the node types that become the subgraph, description)}. The Drag Points editor
# stays outside, where its picture and clicks work as on any graph.
BLUEPRINTS = {
    "SDE Edit - SDE-Drag an image": (
        drag_image_chain, ["VAEEncode", "SDEEditSDEDrag", "VAEDecode"],
        "SDE-Drag from picture to picture: VAE Encode, SDE Edit: SDE-Drag and VAE Decode in one node. Feed it the "
        "image, the model, a prompt describing the image, a negative prompt, the VAE, and the points of SDE Edit: "
        "Drag Points; open it to change SDE-Drag's settings."),
}
SUBGRAPH_DIR = ROOT / "subgraphs"


def render_all(object_info: dict, settings: Settings = SHIPPED) -> dict[str, str]:
    """{file name: JSON text} of every example workflow."""
    return {f"{name}.json": json.dumps(to_ui(fn(settings), object_info), indent=1) + "\n"
            for name, fn in WORKFLOWS.items()}


def shapes_input(s: Settings):
    """The picture the shapes edits start from (what SDE Edit: Shapes Scene draws), as a PIL image."""
    import thumbnails

    return thumbnails.scene_picture(*s.shapes_scene, s.shapes_size)


def write_thumbnails(server: ComfyServer, out: pathlib.Path, settings: Settings = SHIPPED) -> None:
    """example_workflows/<name>.jpg (scripts/thumbnails.py): a shapes example's own output, a checkpoint
    example's graph."""
    import thumbnails

    graphs = {name: graph_of(settings) for name, graph_of in WORKFLOWS.items()}
    starts = {name: None if name == "sde_edit_shapes_generate" else shapes_input(settings)
              for name in graphs if "shapes" in name}
    thumbnails.write_all(server, out, graphs, starts)


def blueprint_text(server: ComfyServer, name: str, settings: Settings = SHIPPED) -> str:
    """The file of blueprint `name`, made by the pinned frontend itself from its source graph."""
    graph_of, types, description = BLUEPRINTS[name]
    return frontend_blueprint(server, to_ui(graph_of(settings), server.object_info()), name, description, types)


def write_blueprints(server: ComfyServer, out: pathlib.Path = SUBGRAPH_DIR) -> None:
    """subgraphs/<name>.json of every blueprint."""
    out.mkdir(exist_ok=True)
    for name in BLUEPRINTS:
        (out / f"{name}.json").write_text(blueprint_text(server, name))
        print(f"wrote {out / name}.json")


def main() -> int:
    ap = argparse.ArgumentParser(description="Write example_workflows/*.json from the graphs in this file, their "
                                             "template-browser thumbnails (*.jpg) and the subgraph blueprints "
                                             "(subgraphs/*.json).")
    ap.add_argument("--out", type=pathlib.Path, default=OUT_DIR)
    ap.add_argument("--no-thumbnails", action="store_true",
                    help="only the workflows' JSON (thumbnails and blueprints run the shapes examples and a browser: "
                         "about a minute)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ComfyServer(pathlib.Path(tmp)) as server:
        files = render_all(server.object_info())
        args.out.mkdir(exist_ok=True)
        for name, text in files.items():
            (args.out / name).write_text(text)
            print(f"wrote {args.out / name}")
        if not args.no_thumbnails:
            write_thumbnails(server, args.out)
            write_blueprints(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
