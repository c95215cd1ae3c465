# The two README commands: `make demo` (the main job) and `make test` (all four test tiers).
# Each builds the test host first (scripts/setup_host.sh: idempotent, seconds when done).
PY := .host/venv/bin/python

.PHONY: setup test test-unit test-host test-server test-browser demo lint workflows bench bench-shapes

setup:
	bash scripts/setup_host.sh

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest -m unit

test-host: setup
	$(PY) -m pytest -m host

test-server: setup
	$(PY) -m pytest -m server

test-browser: setup
	$(PY) -m pytest -m browser

demo: setup
	$(PY) scripts/demo.py

lint: setup
	$(PY) -m ruff check .

workflows: setup
	$(PY) scripts/workflows.py

bench: setup
	$(PY) scripts/benchmark.py

# The shapes ground-truth benchmarks (docs/shapes_benchmarks.md): about 70 min on one CPU core; the four
# `run` lines are independent and may run side by side (one torch thread each).
bench-shapes: setup
	$(PY) scripts/bench_shapes.py run drag --scenes 100
	$(PY) scripts/bench_shapes.py run diffedit --scenes 100
	$(PY) scripts/bench_shapes.py run semantic --scenes 100
	$(PY) scripts/bench_shapes.py run sweeps --scenes 8
	$(PY) scripts/bench_shapes.py report
