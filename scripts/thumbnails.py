"""Thumbnails of the example workflows (example_workflows/<name>.jpg), which ComfyUI's template browser shows
beside each workflow of a custom node pack. scripts/workflows.py writes them with the workflows.

- The shapes examples run on the pack's own shapes model, so their thumbnail is their own output: the run
  through the server, its input and results enlarged 8 times (nearest) on one strip.
- The checkpoint examples need a real checkpoint, which no set-up here downloads; on the random-weight test
  checkpoints their output is noise, which would mislead. Their thumbnail is the graph as the pinned frontend
  draws it, whole (the browser tier's check_workflows.cjs, cropped to its frame).
"""

from __future__ import annotations

import io
import pathlib
import sys
import tempfile

from hostlib import ROOT, ComfyServer, browser_script
from PIL import Image, ImageDraw

SIZE = (640, 299)  # the frame check_workflows.cjs fits each graph in (1500 × 700 px), scaled down
FRAME = (80, 120, 1580, 820)  # left, top, right, bottom on its 1600 × 900 page
ZOOM = 8  # the shapes panels: 32 px enlarged to 256


def graph_shots(server: ComfyServer, files: list[pathlib.Path]) -> dict[str, Image.Image]:
    """{stem: the whole graph of each workflow file, as the frontend draws it, SIZE}."""
    with tempfile.TemporaryDirectory() as tmp:
        shots = pathlib.Path(tmp) / "shot_"
        browser_script("check_workflows.cjs", server.url, "classic", shots, *files, timeout=600)
        return {f.stem: Image.open(f"{shots}{f.stem}.png").convert("RGB").crop(FRAME).resize(SIZE, Image.LANCZOS)
                for f in files}


def strip(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """Labelled panels on a SIZE dark strip, each enlarged by a whole factor (nearest: sharp pixels), at most ZOOM,
    as large as fits."""
    w, h = panels[0][1].size
    gap, label, margin = 12, 16, 8
    n = len(panels)
    zoom = max(1, min(ZOOM, (SIZE[0] - 2 * margin - (n - 1) * gap) // (n * w), (SIZE[1] - 2 * margin - label) // h))
    pw, ph = w * zoom, h * zoom
    out = Image.new("RGB", SIZE, (32, 32, 32))
    draw = ImageDraw.Draw(out)
    x0 = (SIZE[0] - (n * pw + (n - 1) * gap)) // 2
    y0 = (SIZE[1] - (ph + label)) // 2
    for k, (name, im) in enumerate(panels):
        x = x0 + k * (pw + gap)
        out.paste(im.resize((pw, ph), Image.NEAREST), (x, y0 + label))
        draw.text((x + 2, y0 + 2), name, fill=(220, 220, 220))
    return out


def saved_outputs(server: ComfyServer, graph: dict) -> list[Image.Image]:
    """The images a graph's Save Image nodes write, in file order."""
    entry = server.run(graph, timeout=900)
    saved = sorted((m["filename"], png) for m, png in server.images(entry) if m["type"] == "output")
    return [Image.open(io.BytesIO(png)).convert("RGB") for _, png in saved]


def output_strip(server: ComfyServer, graph: dict, scene_input: Image.Image | None) -> Image.Image:
    """A shapes example's thumbnail: its input (when it has one) and what it outputs."""
    outputs = saved_outputs(server, graph)
    labels = ["result"] if len(outputs) == 1 else [f"try {k + 1}" for k in range(len(outputs))]
    panels = ([("input", scene_input)] if scene_input is not None else []) + list(zip(labels, outputs, strict=True))
    return strip(panels)


def write_all(server: ComfyServer, out: pathlib.Path, graphs: dict, starts: dict) -> None:
    """<out>/<name>.jpg for every example: a shapes example (a key of `starts`, with its input picture or None)
    its own output strip, any other its graph as drawn from <out>/<name>.json."""
    shots = graph_shots(server, [out / f"{name}.json" for name in graphs if name not in starts])
    for name, graph in graphs.items():
        image = output_strip(server, graph, starts[name]) if name in starts else shots[name]
        image.save(out / f"{name}.jpg", quality=85, optimize=True)
        print(f"wrote {out / name}.jpg")


def scene_picture(x: float, y: float, r: float, seed: int, size: int) -> Image.Image:
    """The red disc scene the shapes edits start from (what SDE Edit: Shapes Scene draws)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from shapes import world

    rgb = world.render(world.one_object_scene(seed, "red disc", x, y, r), size)[0].permute(1, 2, 0)
    return Image.fromarray((rgb.numpy() * 255).round().astype(np.uint8))
