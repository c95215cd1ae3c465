"""The one-command GPU benchmark runs: `scripts/bench_gpu.py --smoke` (tiny checkpoint, 64 px, a few steps, on
the CPU here) times every workload and writes its report, and each workload makes exactly the model calls its
formula says. A smoke test of the plumbing, not a timed test."""

import re
import subprocess

import pytest
from hostlib import PYTHON, ROOT, require_host

pytestmark = pytest.mark.bench


def test_smoke_run_writes_the_report_and_counts_the_calls(tmp_path):
    require_host()
    proc = subprocess.run([str(PYTHON), "scripts/bench_gpu.py", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = (tmp_path / "benchmarks_gpu.md").read_text()
    assert "smoke mode" in report
    rows = dict(re.findall(r"^\| ([^|]+) \| \d+\.\d\d \| (\d+ \(\d+\)) \|", report, re.M))
    # m = 2 sub-steps of n = 3 steps; DiffEdit-SDE: its mask, record and replay of 3 steps each
    assert rows == {"SDE-Drag": "6 (6)", "ODE-Drag": "10 (10)", "DiffEdit-SDE": "7 (7)", "Inpaint-SDE": "3 (3)",
                    "stage 2: Resample cycle_sde": "3 (3)", "stage 2: KSampler": "3 (3)", "KSampler, 6 steps": "6 (6)"}
    assert re.search(r"Our stage 2 per step against KSampler's: \*\*\d+\.\d{3}\*\*", report)
    assert re.search(r"\| SDE-Drag \| [\d.]+ \| .* \| 75\.86 \| [\d.]+ \|", report)
