"""The shapes benchmarks' command line: `run TASK` writes one task's rows, `report` the tables and plots
(scripts/bench_shapes.py is the entry script; its docstring shows the commands)."""

from __future__ import annotations

import argparse
import pathlib
import time

from bench.shapes_config import LORA, OUT, REPORT, SPLITS, TASK_SPLIT, TASKS

DESCRIPTION = "Ground-truth benchmarks in the shapes world: drag, DiffEdit masks, prompt changes; SDE vs ODE."


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=DESCRIPTION)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run one task and write its rows")
    run.add_argument("task", choices=TASKS)
    run.add_argument("--scenes", type=int, default=100)
    run.add_argument("--threads", type=int, default=1, help="torch threads (1: tasks can run side by side)")
    run.add_argument("--out", type=pathlib.Path, default=OUT)
    run.add_argument("--methods", default=None, help="comma-separated drag methods (default: all DRAG_VARIANTS)")
    run.add_argument("--masked", choices=("no", "yes", "both"), default="both", help="drag: which setting(s)")
    run.add_argument("--name", default=None, help="rows file name (default: the task's; the report reads "
                                                  "drag.json and drag_masked.json)")
    run.add_argument("--split", choices=list(SPLITS), default=None,
                     help="scene seeds: tuning or heldout (default: the task's own, TASK_SPLIT)")
    rep = sub.add_parser("report", help="tables, plots and the markdown report from the rows in docs/shapes_bench/")
    rep.add_argument("--out", type=pathlib.Path, default=OUT, help="where the rows are (and the plots go)")
    rep.add_argument("--report", type=pathlib.Path, default=REPORT)
    args = ap.parse_args(argv)
    if args.cmd == "report":
        from bench.shapes_report import write_report

        write_report(args.out, args.report)
        return 0
    import torch

    torch.set_num_threads(args.threads)
    from bench.shapes_run import Bench, write_rows
    from bench.shapes_tasks import task_rows

    start = time.time()
    b = Bench()
    split = args.split or TASK_SPLIT[args.task]

    name = args.name or args.task
    masked = {"no": (False,), "yes": (True,), "both": (False, True)}[args.masked]
    methods = tuple(args.methods.split(",")) if args.methods else None
    rows = task_rows(args.task, b, args.scenes, grid_path=args.out / f"{name}_examples.png",
                     log=lambda m: print(f"{time.time() - start:7.1f} s  {m}", flush=True), split=split,
                     methods=methods, masked=masked)
    path = write_rows(name, rows, args.out, scenes=args.scenes, threads=args.threads, split=split,
                      scene_seeds=SPLITS[split], seconds=round(time.time() - start, 1),
                      **({"lora": LORA} if args.task == "drag_lora" else {}))
    print(f"wrote {len(rows)} rows to {path} in {time.time() - start:.0f} s")
    return 0

