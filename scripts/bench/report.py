"""The benchmark's report: the machine it ran on, markdown tables, matplotlib figures, a least-squares fit."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import numpy as np
import torch


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def comfy_version() -> str:
    try:
        import comfyui_version

        return comfyui_version.__version__
    except ImportError:
        return "unknown"


def machine() -> dict[str, str]:
    """What the numbers depend on, for the report's header."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{cpu_model()} ({platform.machine()})",
        "cores available": str(cores),
        "torch threads": str(torch.get_num_threads()),
        "RAM": f"{ram_gib():.1f} GiB" if ram_gib() else "unknown",
        "GPU": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)",
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "ComfyUI": comfy_version(),
    }
    return info


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def table(headers: list[str], rows: list[list]) -> str:
    """A markdown table; cells are str()-ed."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def fit(columns: list[list[float]], y: list[float]) -> tuple[list[float], float]:
    """Least squares y ≈ Σ c_j·columns[j] + b: ([c_1, …, c_k, b], R²)."""
    ya = np.asarray(y, dtype=float)
    design = np.stack([*(np.asarray(col, dtype=float) for col in columns), np.ones_like(ya)], axis=1)
    coef, *_ = np.linalg.lstsq(design, ya, rcond=None)
    resid = ya - design @ coef
    total = ((ya - ya.mean()) ** 2).sum()
    r2 = 1 - (resid**2).sum() / total if total > 0 else 1.0
    return [float(v) for v in coef], float(r2)


def fit_linear(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Least squares y ≈ a·x + b: (a, b, R²)."""
    (a, b), r2 = fit([x], y)
    return a, b, r2


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out_dir: Path, name: str) -> str:
    """Write the figure as out_dir/name (PNG) and return the markdown image link."""
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    pyplot().close(fig)
    return f"![{name}]({name})"
