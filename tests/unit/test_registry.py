"""Ready for the Comfy registry: the pyproject fields it reads, with real values; the security lint it runs; an
icon the repository draws itself; and a package (git's files minus .comfyignore) that still has what runs."""

import fnmatch
import pathlib
import re
import subprocess
import sys

import tomllib
from hostlib import NEWER_FRONTEND, PINNED_FRONTEND
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PLACEHOLDERS = re.compile(r"todo|tbd|xxx|your[-_ ]|example\.com|changeme|<.*>", re.I)
TESTED_COMFYUI = "0.3.75"
# What a user's install runs: ComfyUI imports __init__.py, which imports nodes/ and sampling/; web/ is the
# frontend extension; the shapes model's weights sit in shapes/weights/.
RUNTIME = ("__init__.py", "nodes/", "sampling/", "web/", "web/docs/", "example_workflows/", "subgraphs/",
           "shapes/weights/",
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


def test_the_icon_is_the_one_the_script_draws():
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_icon import OUT, icon
    from PIL import Image

    assert PYPROJECT["tool"]["comfy"]["Icon"].endswith("/main/" + OUT.relative_to(ROOT).as_posix())
    drawn, saved = icon(), Image.open(OUT).convert("RGB")
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
