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


def test_the_pack_imports_without_comfyui():
    """ComfyUI imports the pack's __init__.py; outside ComfyUI it must import too, registering nothing."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('sde_edit_pack', {str(ROOT / '__init__.py')!r},\n"
        f"    submodule_search_locations=[{str(ROOT)!r}])\n"
        "mod = importlib.util.module_from_spec(spec); sys.modules['sde_edit_pack'] = mod\n"
        "spec.loader.exec_module(mod)\n"
        "print(mod.WEB_DIRECTORY, hasattr(mod, 'comfy_entrypoint'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["./web", "False"]
