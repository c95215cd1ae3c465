"""Thumbnails of the example workflows (example_workflows/<name>.jpg), which ComfyUI's template browser shows
beside each workflow of a custom node pack: the graph as the frontend draws it, whole.

Runs the browser tier's check_workflows.cjs against a real server (the pinned frontend, classic canvas), crops
its screenshots to the graph's frame and writes 640 × 299 JPEGs. Needs `make setup`; about a minute.

    .host/venv/bin/python scripts/make_thumbnails.py
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hostlib import HOST, ROOT, ComfyServer  # noqa: E402
from PIL import Image  # noqa: E402

WORKFLOWS = ROOT / "example_workflows"
SIZE = (640, 299)  # the frame check_workflows.cjs fits each graph in (1500 × 700 px), scaled down
FRAME = (80, 120, 1580, 820)  # left, top, right, bottom on its 1600 × 900 page


def main() -> int:
    files = sorted(WORKFLOWS.glob("*.json"))
    with tempfile.TemporaryDirectory() as tmp, ComfyServer(pathlib.Path(tmp)) as server:
        shots = pathlib.Path(tmp) / "shot_"
        env = dict(os.environ, NODE_PATH=str(HOST / "node" / "node_modules"))
        proc = subprocess.run(["node", str(ROOT / "tests" / "browser" / "check_workflows.cjs"), server.url, "classic",
                               str(shots), *map(str, files)], env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
            return 1
        json.loads(proc.stdout.strip().splitlines()[-1])  # the report: the run finished
        for f in files:
            shot = Image.open(f"{shots}{f.stem}.png").convert("RGB").crop(FRAME)
            out = WORKFLOWS / f"{f.stem}.jpg"
            shot.resize(SIZE, Image.LANCZOS).save(out, quality=85, optimize=True)
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
