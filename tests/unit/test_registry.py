"""Ready for the Comfy registry: the pyproject fields it reads, with real values; the security lint it runs; an
icon the repository draws itself; and a package (git's files minus .comfyignore) that still has what runs."""

import ast
import fnmatch
import pathlib
import re
import subprocess
import sys

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[2]


def script_constants(script: str) -> dict[str, object]:
    """The module-level `NAME = <expression>` assignments of scripts/<script>, read with ast, not imported (the
    unit tier imports nothing from scripts/): literals as values, anything else as its string constants joined
    by `/` (so `ROOT / "docs" / "icon.png"` reads "docs/icon.png")."""
    found: dict[str, object] = {}
    for node in ast.parse((ROOT / "scripts" / script).read_text()).body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            names = [target] if isinstance(target, ast.Name) else getattr(target, "elts", [])
            values = node.value.elts if len(names) > 1 and isinstance(node.value, ast.Tuple) else [node.value]
            for name, value in zip(names, values, strict=True):
                if isinstance(name, ast.Name):
                    try:
                        found[name.id] = ast.literal_eval(value)
                    except ValueError:
                        strings = [n for n in ast.walk(value) if isinstance(n, ast.Constant)
                                   and isinstance(n.value, str)]
                        found[name.id] = "/".join(n.value for n in sorted(strings, key=lambda n: n.col_offset))
    return found


HOSTLIB = script_constants("hostlib.py")
PINNED_FRONTEND, NEWER_FRONTEND = HOSTLIB["PINNED_FRONTEND"], HOSTLIB["NEWER_FRONTEND"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PLACEHOLDERS = re.compile(r"todo|tbd|xxx|your[-_ ]|example\.com|changeme|<.*>", re.I)
TESTED_COMFYUI = "0.3.75"
# What a user's install runs: ComfyUI imports __init__.py, which imports nodes/ and sampling/; web/ is the
# frontend extension; the nodes import shapes/, whose weights sit in shapes/weights/.
RUNTIME = ("__init__.py", "nodes/", "sampling/", "web/", "web/docs/", "example_workflows/", "subgraphs/",
           "shapes/", "shapes/weights/",
           "LICENSE", "README.md", "pyproject.toml", "requirements.txt")


def test_project_fields_are_real_values():
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    name = project["name"]
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", name) and len(name) < 100, name
    assert "comfyui" not in name.lower()  # the registry's naming rule
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert (ROOT / project["license"]["file"]).read_text().startswith(" " * 20 + "GNU GENERAL PUBLIC LICENSE")
    assert project["urls"]["Repository"].startswith("https://github.com/")
    for value in (name, project["description"], project["urls"]["Repository"], comfy["PublisherId"],
                  comfy["DisplayName"], comfy["Icon"]):
        assert value and not PLACEHOLDERS.search(value), value
    assert "Operating System :: OS Independent" in project["classifiers"]


def test_the_declared_comfyui_and_frontend_ranges_are_the_tested_ones():
    comfyui = SpecifierSet(PYPROJECT["tool"]["comfy"]["requires-comfyui"])
    assert TESTED_COMFYUI in comfyui and "0.3.74" not in comfyui
    (frontend,) = [Requirement(d) for d in PYPROJECT["project"]["dependencies"]]
    assert frontend.name == "comfyui-frontend-package"
    assert PINNED_FRONTEND in frontend.specifier and NEWER_FRONTEND in frontend.specifier  # both browser-tested
    assert "1.32.8" not in frontend.specifier


def test_the_frontend_versions_are_read_from_hostlib():
    assert re.fullmatch(r"\d+\.\d+\.\d+", PINNED_FRONTEND) and re.fullmatch(r"\d+\.\d+\.\d+", NEWER_FRONTEND)
    assert tuple(map(int, PINNED_FRONTEND.split("."))) < tuple(map(int, NEWER_FRONTEND.split(".")))


def test_the_icon_is_the_one_the_script_draws(tmp_path):
    """scripts/make_icon.py, run as a script, draws the same pixels as the committed icon."""
    out = script_constants("make_icon.py")["OUT"]
    assert out == "docs/icon.png"
    assert PYPROJECT["tool"]["comfy"]["Icon"].endswith("/main/" + out)
    drawn_path = tmp_path / "icon.png"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_icon.py"), "--out", str(drawn_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    drawn, saved = Image.open(drawn_path).convert("RGB"), Image.open(ROOT / out).convert("RGB")
    assert saved.size == (400, 400) and drawn.tobytes() == saved.tobytes()


def test_the_registry_security_lint_passes():
    """exec (S102), eval (S307) and several statements on one line (E702) are refused by the registry's check."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "S102,S307,E702", "--no-cache", "."],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def ignored(path: str, patterns: list[str]) -> bool:
    """gitignore's rule for the forms .comfyignore uses: a leading `/` anchors a pattern at the root, else it
    matches at any depth (`docs/` would also drop web/docs/); a trailing `/` matches a folder."""
    for pat in patterns:
        anchored, folder, body = pat.startswith("/"), pat.endswith("/"), pat.strip("/")
        parts = path.split("/")
        starts = [0] if anchored else range(len(parts))
        for i in starts:
            n = len(body.split("/"))
            head = "/".join(parts[i:i + n])
            if fnmatch.fnmatch(head, body) and (not folder or i + n < len(parts)):
                return True
    return False


def test_the_package_keeps_what_runs_and_drops_the_tests():
    patterns = [line.strip() for line in (ROOT / ".comfyignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()  # what a commit would hold
    kept = [p for p in tracked if not ignored(p, patterns)]
    assert ignored("web/docs/x.md", ["docs/"]) and not ignored("web/docs/x.md", ["/docs/"])  # the rule itself
    for need in RUNTIME:
        assert any(p == need or p.startswith(need) for p in kept), f"{need} would be left out of the package"
    assert not [p for p in kept if p.startswith(("tests/", "scripts/", "docs/"))]  # tests, tools, docs, benchmarks
    assert any(p.startswith("shapes/weights/") and p.endswith(".safetensors") for p in kept)
