"""The benchmark script runs: `scripts/benchmark.py --quick` writes a report with every section and its plots.

A smoke test of the plumbing, not a timed test: the numbers themselves are not checked.
"""

import re
import subprocess

import pytest
from hostlib import PYTHON, ROOT, require_host

pytestmark = pytest.mark.bench

FIGURES = ("overhead.png", "recording.png", "memory.png", "scaling.png", "toy_fig5.png", "table3.png")


def test_quick_benchmark_writes_every_section(tmp_path):
    require_host()
    from bench.suite import SECTIONS

    proc = subprocess.run([str(PYTHON), "scripts/benchmark.py", "--quick", "--threads", "1", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = (tmp_path / "benchmarks.md").read_text()
    assert "This section failed" not in report
    for title, _, _ in SECTIONS:
        assert f"## {title}\n" in report, title
    for heading in ("## Machine", "## Notes", "| CPU |", "| torch |", "| ComfyUI | 0.3.75 |", "| date |"):
        assert heading in report, heading
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 1000, name
        assert f"]({name})" in report, name
    # each section has its numbers: ratios, speed-ups, counted calls, MiB, a fit, the toy verdicts, errors
    for pattern in (r"Resample `cycle_sde` \| KSampler `ddpm` \| 4 / 4 \|", r"record, batch 1 \| 6 \|",
                    r"\| SDE-Drag \| n = 4, m = 2.*\| 8 \|", r"\| KSampler `ddpm` \| 2 \| \d+\.\d \|",
                    r"\| sd3 \| -?\d+\.\d{3} s \|", r"\| ve \| N\(2, 2²\) \| \d\.\d{3} \|",
                    r"\| 7\.5 \| \d\.\de-\d\d \|",
                    r"\| SDE-Drag, falling LoRA \(strength set per call, lora_min 0\.5\) \| 4 / 14 \|"):
        assert re.search(pattern, report), pattern
