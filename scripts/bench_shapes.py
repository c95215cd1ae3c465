"""Ground-truth benchmarks in the shapes world: drag, DiffEdit masks, prompt changes; SDE vs ODE (issue 11).

Every edit of a shapes scene has an exact answer, so the pack's nodes are scored against it
(shapes/metrics.py) instead of by eye. Runs ComfyUI in this process (the pack loaded by
ComfyUI's own loader) on the pack's conditional shapes model (32 px), calling the same nodes a graph
runs, and counts the model's forward passes through ComfyUI's unet wrapper.

    python scripts/bench_shapes.py run drag --scenes 100      # one task's rows → docs/shapes_bench/drag.json
    python scripts/bench_shapes.py run diffedit --scenes 100
    python scripts/bench_shapes.py run semantic --scenes 100
    python scripts/bench_shapes.py run sweeps --scenes 12
    python scripts/bench_shapes.py report                     # tables with bootstrap CIs, plots → docs/

Tasks can run in parallel processes (one torch thread each: `--threads`). Rows are plain JSON, one
per (scene, method, setting), with the metrics, model calls, rows evaluated and wall time, so the
report (and anyone) can recompute every number. Example grids are written by `run` for the first
scenes of each task. Settings are below (`DEFAULTS`); docs/shapes_benchmarks.md says what they mean.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "scripts"):  # appended: ComfyUI's own `nodes` must win over the pack's nodes/ package
    if str(_p) not in sys.path:
        sys.path.append(str(_p))

from bench.shapes_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
