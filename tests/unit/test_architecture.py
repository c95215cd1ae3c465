"""The pack's layering, enforced:

(a) sampling/ (the math) and shapes/ (the shapes world) import no ComfyUI module: read statically from every
    .py, and by importing every module in a fresh interpreter and reading sys.modules;
(b) shapes/ imports neither sampling/ nor nodes/, and sampling/ imports neither shapes/ nor nodes/;
(c) only nodes/comfy/ imports ComfyUI's internals; the rest of nodes/ (and the pack's __init__.py) imports
    ComfyUI's public schema API, comfy_api, and nothing else of ComfyUI's;
and the unit tier imports nothing from scripts/.

Imports are read with ast over the whole file (imports inside functions too) and include
importlib.import_module / __import__ with a literal name. Relative imports resolve against the pack root, which
ComfyUI loads as a package: `from ...sampling import x` in nodes/comfy/model.py is the pack's sampling.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMFY_API = "comfy_api"  # the public schema API (comfy_api.latest)
COMFY_INTERNALS = {
    "comfy",
    "comfy_extras",
    "comfy_execution",
    "comfy_config",
    "nodes",
    "folder_paths",
    "server",
    "execution",
    "latent_preview",
    "node_helpers",
}
COMFY_TOP = COMFY_INTERNALS | {COMFY_API}
PURE = ("sampling", "shapes")  # pure torch, no ComfyUI
PACK_PACKAGES = {"sampling", "shapes", "nodes"}
FORBIDDEN_PACK = {"sampling": {"shapes", "nodes"}, "shapes": {"sampling", "nodes"}}  # (b)


def imports(path: pathlib.Path) -> list[tuple[str, str]]:
    """(kind, module) per import in `path`: kind "abs" for an absolute import (as Python resolves it outside
    the pack, so `nodes` is ComfyUI's), "pack" for a relative one, resolved to a name under the pack root."""
    rel = path.relative_to(ROOT)
    package = list(rel.parts[:-1])  # __init__.py's package is its folder too
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [("abs", a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append(("abs", node.module or ""))
        elif isinstance(node, ast.ImportFrom):
            up = node.level - 1
            assert up <= len(package), f"{rel}: a relative import above the pack root"
            base = package[: len(package) - up] + (node.module.split(".") if node.module else [])
            found.append(("pack", ".".join(base)))
            if node.module is None:  # `from .. import limits`: the names are modules
                found += [("pack", ".".join([*base, a.name])) for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("__import__", "import_module"))
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            found.append(("abs", node.args[0].value))
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def sources(*folders: str) -> list[pathlib.Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def violations(files, rule) -> list[str]:
    """`file: module` for each import that `rule(file, kind, module)` refuses."""
    return [
        f"{p.relative_to(ROOT)}: {name}"
        for p in files
        for kind, name in imports(p)
        if rule(p, kind, name)
    ]


# The reader itself, on snippets: a checker that never finds anything could not fail.


def test_the_import_reader_resolves_absolute_relative_and_dynamic_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    f = tmp_path / "nodes" / "comfy" / "x.py"
    f.parent.mkdir(parents=True)
    f.write_text(
        "import comfy.sd, torch\nfrom comfy_api.latest import io\nfrom ...sampling.drag import DragPair\n"
        "from .. import limits\nfrom . import kinds\n"
        "def f():\n    import folder_paths\n    importlib.import_module('comfy_extras.nodes_x')\n"
    )
    assert sorted(imports(f)) == sorted(
        [("abs", "comfy.sd"), ("abs", "torch"), ("abs", "comfy_api.latest"), ("pack", "sampling.drag"),
         ("pack", "nodes"), ("pack", "nodes.limits"), ("pack", "nodes.comfy"), ("pack", "nodes.comfy.kinds"),
         ("abs", "folder_paths"), ("abs", "comfy_extras.nodes_x")]
    )


def test_the_rules_cover_the_whole_tree():
    """Every runtime folder has files to check (a rename would otherwise leave a rule checking nothing)."""
    for folder in ("sampling", "shapes", "nodes", "nodes/comfy"):
        assert sources(folder), folder
    assert any(top(n) == "comfy" for p in sources("nodes/comfy") for _, n in imports(p))  # the reader sees them
    assert any(n.startswith("comfy_api") for p in sources("nodes") for _, n in imports(p))


# (a) sampling/ and shapes/: no ComfyUI, statically and at import time.


@pytest.mark.parametrize("folder", PURE)
def test_no_comfyui_import_in_the_source(folder):
    bad = violations(sources(folder), lambda p, kind, name: kind == "abs" and top(name) in COMFY_TOP)
    assert not bad, f"{folder}/ imports ComfyUI: {bad}"


@pytest.mark.parametrize("folder", PURE)
def test_importing_every_module_loads_no_comfyui_and_no_other_layer(folder):
    mods = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in sources(folder)
    )
    banned = sorted(COMFY_TOP | FORBIDDEN_PACK[folder])
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {banned!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing {folder}/ loaded: {out.stdout.strip()}"


# (b) the two pure layers do not import each other, nor the nodes.


@pytest.mark.parametrize("folder", PURE)
def test_the_pure_layers_import_neither_each_other_nor_the_nodes(folder):
    forbidden = FORBIDDEN_PACK[folder]

    def rule(p, kind, name):
        return (kind == "pack" and top(name) in forbidden) or (kind == "abs" and top(name) in forbidden - {"nodes"})

    bad = violations(sources(folder), rule)  # an absolute `nodes` is ComfyUI's: test (a) refuses it
    assert not bad, f"{folder}/ imports {sorted(forbidden)}: {bad}"


# (c) ComfyUI's internals only in nodes/comfy/.


def test_only_nodes_comfy_imports_comfyui_internals():
    runtime = [ROOT / "__init__.py", *sources("nodes", *PURE)]
    outside = [p for p in runtime if not p.is_relative_to(ROOT / "nodes" / "comfy")]
    bad = violations(outside, lambda p, kind, name: kind == "abs" and top(name) in COMFY_INTERNALS)
    assert not bad, f"ComfyUI internals imported outside nodes/comfy/: {bad}"


def test_the_pack_imports_itself_relatively():
    """An absolute `import sampling` works in the tests but not in ComfyUI, which loads the pack as a package
    under its folder's name (and whose own top-level `nodes` would shadow the pack's)."""
    runtime = [ROOT / "__init__.py", *sources("nodes", *PURE)]
    bad = violations(runtime, lambda p, kind, name: kind == "abs" and top(name) in PACK_PACKAGES - {"nodes"})
    assert not bad, bad


# The unit tier tests the pure layers: nothing from scripts/ (dev tooling, some of it needing the host).


def test_the_unit_tier_imports_nothing_from_scripts():
    tools = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    assert "hostlib" in tools  # the rule has something to refuse
    bad = violations(sources("tests/unit"), lambda p, kind, name: kind == "abs" and top(name) in tools)
    assert not bad, f"tests/unit imports scripts/ modules: {bad}"
    bad = [str(p.relative_to(ROOT)) for p in sources("tests/unit") if 'ROOT / "scripts")' in p.read_text()
           and "sys.path" in p.read_text() and p.name != "test_architecture.py"]
    assert not bad, f"tests/unit puts scripts/ on sys.path: {bad}"
