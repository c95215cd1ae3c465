# The two README commands: `make demo` (the main job) and `make test` (all four test tiers).
# Each builds the test host first (scripts/setup_host.sh: idempotent, seconds when done).
PY := .host/venv/bin/python

.PHONY: setup test test-quick test-unit test-host test-server test-browser fuzz demo lint workflows bench bench-shapes \
	checkpoints-full bench-real bench-gpu

setup:
	bash scripts/setup_host.sh

test: setup
	$(PY) -m pytest

# Everything but the long soak and the benchmark smoke tests (markers soak, bench): for a developer's quick loop
# (CI runs `make test`, the whole suite).
test-quick: setup
	$(PY) -m pytest -m "not soak and not bench"

test-unit: setup
	$(PY) -m pytest -m unit

test-host: setup
	$(PY) -m pytest -m host

test-server: setup
	$(PY) -m pytest -m server

test-browser: setup
	$(PY) -m pytest -m browser

# 1,000 fuzzed prompts through the real server (make test runs the first 300); about 3 minutes.
# Another seed: make fuzz SEED=1. Replay cases: SDE_EDIT_FUZZ_ONLY=12,345 make fuzz.
SEED ?= 0
fuzz: setup
	SDE_EDIT_FUZZ_CASES=1000 SDE_EDIT_FUZZ_SEED=$(SEED) $(PY) -m pytest tests/server/test_fuzz.py

# The main job needs no browser: its set-up skips Debian's chromium, npm's playwright-core and the second frontend.
demo:
	SDE_EDIT_SKIP_BROWSER=1 bash scripts/setup_host.sh
	$(PY) scripts/demo.py

lint: setup
	$(PY) -m ruff check .

workflows: setup
	$(PY) scripts/workflows.py

bench: setup
	$(PY) scripts/benchmark.py

# Full-size SD1.5 with random weights (about 2 GB, 1-2 minutes; once): the real architecture's costs, no download.
FULL_SD15 := .host/ComfyUI/models/checkpoints/sde_edit_full_sd15.safetensors
checkpoints-full: setup $(FULL_SD15)
$(FULL_SD15): scripts/make_full_checkpoints.py
	$(PY) scripts/make_full_checkpoints.py --comfy .host/ComfyUI --out .host/ComfyUI/models/checkpoints --verify

# The CPU comparisons on the real SD1.5 architecture at 256 px (docs/benchmarks_real/): about 15 minutes.
bench-real: checkpoints-full
	$(PY) scripts/benchmark.py --real --threads 2 --out docs/benchmarks_real

# The paper's settings on a GPU (docs/benchmarks_gpu.md); builds the full-size checkpoint if it is missing.
bench-gpu: setup
	$(PY) scripts/bench_gpu.py

# The shapes ground-truth benchmarks (docs/shapes_benchmarks.md): about 2.5 hours on one CPU core; the `run`
# lines are independent and may run side by side (one torch thread each). Headline tasks use held-out scenes,
# semantic_t0 (where the recolour example's settings were chosen) the tuning ones.
bench-shapes: setup
	$(PY) scripts/bench_shapes.py run drag --scenes 32 --masked no
	$(PY) scripts/bench_shapes.py run drag --scenes 32 --masked yes --methods ode,sde_paper,sde,sde_moved --name drag_masked
	$(PY) scripts/bench_shapes.py run semantic --scenes 20
	$(PY) scripts/bench_shapes.py run semantic_t0 --scenes 12
	$(PY) scripts/bench_shapes.py run sync --scenes 40
	$(PY) scripts/bench_shapes.py run diffedit --scenes 40 --split tuning --name diffedit_tuning
	$(PY) scripts/bench_shapes.py run diffedit --scenes 100
	$(PY) scripts/bench_shapes.py run drag_lora --scenes 48
	$(PY) scripts/bench_shapes.py report
