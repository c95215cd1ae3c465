"""SDE Edit: Drag Points: the drags of an SDE-Drag edit, placed by clicking on the picture.

The editor is web/drag_points.js: it shows the image, turns clicks into source → target pairs and
keeps them as JSON in the `points` widget, so they travel in saved workflows. This node checks
them against the image (sampling.drag.parse_points), gives them back in the pairs format, and
draws them as arrows on a preview.

It is an output node: ComfyUI then visits it on every run, and a cached run still sends the editor
its picture (an ordinary node that is cached is skipped, and the editor would stay blank). The UI
result carries only that clean picture: the editor draws the arrows itself, so the node shows no
second preview below it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import torch
from comfy_api.latest import io, ui
from PIL import Image, ImageDraw

from ..sampling.drag import DragPair
from . import limits
from .common import CATEGORY, check_links, newer_schema_fields

# The editor (web/drag_points.js) draws with the same colours.
SOURCE_RGB, SHAFT_RGB, HEAD_RGB = (230, 40, 40), (255, 220, 0), (40, 120, 255)
# The extra UI key that carries the clean picture, so the editor can show it without the baked arrows.
EDITOR_IMAGE_KEY = "sde_edit_image"
# The preview of a small picture is enlarged by an integer factor (nearest neighbour: every pixel stays a
# sharp square) until its short side reaches LEGIBLE_PX, with the long side kept within MAX_PREVIEW_PX.
LEGIBLE_PX, MAX_PREVIEW_PX = 256, 2048


def preview_scale(width: int, height: int) -> int:
    """The integer factor the preview of a width × height picture is enlarged by (1: shown as it is)."""
    want = math.ceil(LEGIBLE_PX / min(width, height))
    return max(1, min(want, MAX_PREVIEW_PX // max(width, height)))


def pairs_json(pairs: list[DragPair]) -> str:
    """The pairs format `[{"source": [x, y], "target": [x, y]}, ...]`."""
    return json.dumps([{"source": list(p.source), "target": list(p.target)} for p in pairs])


def arrow_sizes(width: int, height: int) -> tuple[int, int, int]:
    """(line width, source-dot radius, arrow-head length) in pixels for a picture of this size."""
    lw = max(1, round(min(width, height) / 160))
    return lw, 2 * lw + 1, 4 * lw + 4


def arrow_overlay(pairs: list[DragPair], width: int, height: int, scale: int = 1) -> torch.Tensor:
    """[H·s, W·s, 4] RGBA in 0..1: each drag as a dot at the source, a shaft and a head at the target, at the
    centres of the drag's pixels on a picture enlarged `scale` times; alpha 0 elsewhere."""
    width, height = width * scale, height * scale
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    lw, r, head = arrow_sizes(width, height)

    def at(v: float) -> float:  # the centre of image pixel v on the enlarged picture (PIL: pixel v's centre is v)
        return (v + 0.5) * scale - 0.5

    for p in pairs:
        (sx, sy), (tx, ty) = (at(v) for v in p.source), (at(v) for v in p.target)
        length = math.hypot(tx - sx, ty - sy)
        ux, uy = (tx - sx) / length, (ty - sy) / length
        h = min(head, length)
        bx, by = tx - ux * h, ty - uy * h  # the head's base
        draw.line([(sx, sy), (bx, by)], fill=(*SHAFT_RGB, 255), width=lw)
        draw.polygon([(tx, ty), (bx - uy * h / 2, by + ux * h / 2), (bx + uy * h / 2, by - ux * h / 2)],
                     fill=(*HEAD_RGB, 255))
        draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(*SOURCE_RGB, 255), outline=(0, 0, 0, 255))
    return torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0)


def draw_drags(image: torch.Tensor, pairs: list[DragPair], scale: int = 1) -> torch.Tensor:
    """A new IMAGE [B, H·s, W·s, C]: the batch enlarged `scale` times (nearest neighbour) with the arrows over
    every picture; pixels away from them are the enlarged input's."""
    overlay = arrow_overlay(pairs, image.shape[2], image.shape[1], scale).to(image.device, image.dtype)
    rgb, alpha = overlay[..., :3], overlay[..., 3:]
    image = image.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    out = image.clone()
    out[..., :3] = image[..., :3] * (1 - alpha) + rgb * alpha
    return out


def _no_points(text: str) -> bool:
    return "".join(text.split()) in ("", "[]")


class DragPoints(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditDragPoints",
            **newer_schema_fields(search_aliases=["drag points", "point editor", "click points"]),
            display_name="SDE Edit: Drag Points",
            category=f"{CATEGORY}/drag",
            is_output_node=True,
            description="Place SDE-Drag's drags on the picture: click a source, then its target (arrows show them; "
                        "Undo / Clear below the picture). The picture comes from a connected Load Image at once, "
                        "otherwise from this node's last run. Outputs the checked drags as JSON pairs, and a preview "
                        "with the arrows drawn on.",
            inputs=[
                io.Image.Input("image", tooltip="The picture the drags are placed on (the one you edit). Its size "
                                                 "checks the points; with a batch, every picture gets the arrows."),
                io.String.Input(
                    "points", default="[]",
                    tooltip="The drags as JSON, in image pixels: [{\"source\": [x, y], \"target\": [x, y]}, ...], or "
                            "KJNodes' alternating [{\"x\": .., \"y\": ..}, ...] (source, target, source, target, …). "
                            "The editor on the node writes it; you can also type it. An empty list only shows the "
                            "picture (run once to place points on an image that is not from Load Image)."),
            ],
            outputs=[
                io.String.Output(display_name="points",
                                 tooltip="The checked drags as [{\"source\": [x, y], \"target\": [x, y]}, ...]: "
                                         "connect to the SDE-Drag node's points."),
                io.Image.Output(display_name="preview",
                                tooltip="The picture with each drag drawn as an arrow (red dot = source, blue "
                                        f"head = target). A picture under {LEGIBLE_PX} px on its short side is "
                                        "enlarged by a whole factor (nearest neighbour) so the arrows read; "
                                        "edit the image input, not this."),
            ],
        )

    @classmethod
    def execute(cls, image: torch.Tensor, points: str) -> io.NodeOutput:
        check_links(image=image)
        if image.ndim != 4 or image.shape[-1] < 3:
            raise ValueError(f"image: expected an RGB IMAGE [batch, height, width, 3], got shape {tuple(image.shape)}")
        height, width = image.shape[1], image.shape[2]
        limits.check_points_text("points", points)
        pairs = [] if _no_points(points) else limits.checked_points(points, width, height)
        preview = draw_drags(image, pairs, preview_scale(width, height))
        shown = {EDITOR_IMAGE_KEY: ui.ImageSaveHelper.save_images(
            image[:1], filename_prefix="sde_edit_points", folder_type=io.FolderType.temp, cls=None, compress_level=1)}
        return io.NodeOutput(pairs_json(pairs), preview, ui=shown)
