"""Peak memory of one workload, each in a fresh process (used by scripts/benchmark.py).

    cd scripts && python -m bench.memory '[{"checkpoint": "sd15", "size": 128, "workload": "sde_drag", "steps": 8,
                                      "cfg": 3.0, "batch_size": 0, "threads": 0}]'

prints one JSON line: a list with one result per configuration. Method, per configuration: load
ComfyUI, the checkpoint, the prompts and the input latent; warm up with a one-step KSampler at 64 px
(the lazy one-time work: the model's first load for sampling, oneDNN kernels, thread pools, with
small activations); give freed heap memory back to the system (glibc malloc_trim) and reset the
kernel's peak-RSS mark (`echo 5 > /proc/self/clear_refs`), so the baseline is the resident set now,
not the transient peak of loading the checkpoint; run the workload once; read the peak (VmHWM in
/proc/self/status). The difference is the memory the run added at its peak: activations, batched
model inputs, the trajectory. Where the mark cannot be reset it falls back to getrusage's ru_maxrss,
which then reads low (0 when loading peaked higher than the run). On a CUDA device it also reports
torch.cuda.max_memory_allocated over the run minus the memory allocated before it (tensors only).
"""

from __future__ import annotations

import ctypes
import json
import resource
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent


def _status_mib(key: str) -> float:
    """VmRSS / VmHWM of this process, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def _reset_peak() -> tuple[float, str]:
    """Trim the heap and reset the peak-RSS mark; the baseline (MiB) and the method used."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mib("VmRSS"), "VmHWM after reset"
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ru_maxrss"


def _peak(method: str) -> float:
    if method == "ru_maxrss":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return _status_mib("VmHWM")


def worker(configs: list[dict]) -> list[dict]:
    """Measure each configuration in turn (one process; the benchmark starts one per configuration)."""
    import torch

    if configs[0].get("threads"):
        torch.set_num_threads(int(configs[0]["threads"]))
    from inprocess import Comfy

    from bench.workloads import WORKLOADS, Inputs, ksampler

    c = Comfy(cpu=not torch.cuda.is_available(), quiet=True)
    c.quiet_progress()
    results = []
    for config in configs:
        inp = Inputs(c, config["checkpoint"], config["size"])
        ksampler(Inputs(c, config["checkpoint"], 64), 1, config["cfg"], "ddpm")  # warm-up
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            cuda_base = torch.cuda.memory_allocated()
        base, method = _reset_peak()
        WORKLOADS[config["workload"]](inp, config["steps"], config["cfg"], config.get("batch_size", 0))
        out = {"baseline_mib": base, "peak_mib": _peak(method), "method": method}
        out["added_mib"] = out["peak_mib"] - base
        if cuda:
            torch.cuda.synchronize()
            out["cuda_added_mib"] = (torch.cuda.max_memory_allocated() - cuda_base) / 2**20
        results.append(out)
    return results


def measure(configs: list[dict], fresh: bool = True, timeout: float = 600.0) -> list[dict]:
    """Run `worker` in a fresh interpreter (the host venv's): one per configuration, or (fresh=False, for
    quick runs) one for all of them; the results in order. A configuration already measured is not rerun."""
    from hostlib import PYTHON

    todo = [cfg for cfg in configs if json.dumps(cfg, sort_keys=True) not in _MEASURED]
    for batch in [[cfg] for cfg in todo] if fresh else [todo] if todo else []:
        proc = subprocess.run([str(PYTHON), "-m", "bench.memory", json.dumps(batch)], capture_output=True, text=True,
                              timeout=timeout, cwd=SCRIPTS)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"memory worker failed ({proc.returncode}) for {batch}:\n{proc.stderr[-3000:]}")
        for cfg, result in zip(batch, json.loads(lines[-1]), strict=True):
            _MEASURED[json.dumps(cfg, sort_keys=True)] = result
    return [_MEASURED[json.dumps(cfg, sort_keys=True)] for cfg in configs]


_MEASURED: dict[str, dict] = {}  # a configuration measured once per benchmark run (sections 4 and 5 share one)


if __name__ == "__main__":  # `python -m bench.memory CONFIGS` in scripts/ (sys.path[0]: scripts/)
    print(json.dumps(worker(json.loads(sys.argv[1]))), flush=True)
