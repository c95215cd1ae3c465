"""The benchmarks: the report of scripts/benchmark.py (suite: sections in speed and scale, with workloads,
memory and report) and the shapes ground-truth benchmarks of scripts/bench_shapes.py (shapes_config: settings
and scenes; shapes_run: the edits; shapes_tasks: their rows; shapes_report; shapes_cli; stats).

Import as `bench.<module>` with scripts/ on sys.path (the entry scripts put it there)."""
