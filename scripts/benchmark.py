"""How the pack performs: a report with tables and plots, written to docs/benchmarks.md and docs/*.png.

    make bench                                   # the full run (a few minutes on 2 CPU cores)
    .host/venv/bin/python scripts/benchmark.py --quick --out /tmp/bench   # seconds: development, smoke test

ComfyUI runs in this process with the host's tiny checkpoints (`make setup` builds them; their weights
are random, so this measures speed, memory and exactness, not edit quality). Sections:

1. overhead: each stage-2 sampler against ComfyUI's own with the same model, steps and size;
2. recording: Cycle-SDE recording batched vs sequential calls, and fused into the sampling calls;
3. model calls per edit: SDE-Drag, DiffEdit, sync-SDE, against the formulas and the authors' code;
4. peak memory: SDE-Drag vs KSampler, each in a fresh process;
5. scaling: time and memory of record + resample as steps and image size grow, with a fit;
6. the paper's claims that need no real weights: the toy experiment (Fig. 5), Table 3's analogue.
7. the image's LoRA: Train Image LoRA's time per step, and SDE-Drag with the falling LoRA strength against core
   Load LoRA's merged LoRA (the cost of setting the strength per call).

Timings on a shared machine swing by several times: every comparison is measured in one process, the
runs being compared interleaved round by round, and reported as medians of per-round ratios.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))  # for `sampling` (the toy experiment); after ComfyUI's own `nodes`

from bench.suite import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
