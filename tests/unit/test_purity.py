"""The pack imports outside ComfyUI too (registering nothing); the import rules themselves (sampling/ and
shapes/ free of ComfyUI, ComfyUI internals only in nodes/comfy/) are test_architecture.py."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


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
