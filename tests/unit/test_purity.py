"""The math stays pure: sampling/ imports no ComfyUI module, so it runs and tests on its own."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMFY_TOP = {
    "comfy",
    "comfy_api",
    "comfy_extras",
    "comfy_execution",
    "nodes",
    "folder_paths",
    "server",
    "execution",
    "latent_preview",
    "node_helpers",
    "comfy_config",
}


def test_no_comfyui_import_in_the_source():
    for path in (ROOT / "sampling").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            bad = [n for n in names if n.split(".")[0] in COMFY_TOP]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_importing_every_module_loads_no_comfyui_module():
    mods = sorted(p.stem for p in (ROOT / "sampling").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module('sampling.' + m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(COMFY_TOP)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"ComfyUI modules imported by sampling/: {out.stdout.strip()}"
