"""The pack's API fuzzed through the real server (cases: tests/server/fuzz_cases.py).

Every case must end in success or a clear error, and the server must stay well:
- refused (HTTP 400): ComfyUI's node_errors, each naming the input (`extra_info.input_name`);
- failed while running: the failing node's message names one of its inputs (or of the fuzzed node's),
  is not a bare Python error (KeyError, IndexError, TypeError ...) and is short enough to read;
- a good prompt comes back right after every GOOD_EVERY cases and after the last;
- nothing is written outside the output and temp folders: the input folder, the rest of the server's
  folder and ComfyUI's own tree are unchanged, and the folder the absolute paths point at stays absent.

`make test` runs the first SLICE cases of seed 0 (every node several times); `make fuzz` runs 1,000.
Environment: SDE_EDIT_FUZZ_CASES (count), SDE_EDIT_FUZZ_SEED, SDE_EDIT_FUZZ_ONLY (comma-separated
indices, to replay). The counts, message classes and times go to test-artifacts/fuzz.json.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import shutil
import time

import bad_inputs as bi
import fuzz_cases as fc
import pytest
from hostlib import COMFY, ROOT, PromptFailed
from pack_nodes import PACK_NODE_IDS
from test_reliability import IMAGE, _saved, good_prompt
from test_server import write_input_image

SLICE = 300
GOOD_EVERY = 50
CASE_TIMEOUT = 180.0
MAX_MESSAGE = 2000  # characters: an error a user reads, not a value echoed back
ESCAPE = pathlib.Path("/tmp/sde_edit_fuzz_escape")  # where fuzz_cases' absolute paths point
LOAD_FILE = "fuzz/good.trajectory.safetensors"
BARE = {"KeyError", "IndexError", "AttributeError", "TypeError", "ZeroDivisionError", "UnboundLocalError",
        "NameError", "AssertionError", "RecursionError", "OverflowError", "StopIteration", "NotImplementedError"}
ARTIFACT = ROOT / "test-artifacts" / "fuzz.json"


def snapshot(root: pathlib.Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every file under root, but the top-level names in `skip` and caches."""
    out = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if rel.parts[0] in skip or "__pycache__" in rel.parts or not p.is_file():
            continue
        st = p.lstat()
        out[str(rel)] = (st.st_size, st.st_mtime_ns)
    return out


def normalized(message: str) -> str:
    """A message's class: its first clause, quoted values and numbers elided."""
    head = re.split(r";|\n", message.strip(), maxsplit=1)[0]
    head = re.sub(r"'[^']*'|'[^'…]*…", "'…'", head)  # a quoted value, or one cut short by shown()
    head = re.sub(r"-?\d[\d,.]*(e[+-]?\d+)?", "N", head)
    return head[:90]


def names_an_input(message: str, names: set[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", message) for name in names)


def hosts_own(error: dict) -> bool:
    """ComfyUI 0.3.75's own refusal of a broken link on an output node (a link to a node or an output that
    does not exist, or not [id, index]): its validate_inputs raises there before any pack code runs, and the
    error carries the node but no input name. Behind a sink the same link is refused with its name. Only
    errors whose traceback has no frame in the pack count as the host's."""
    info = error.get("extra_info") or {}
    frames = "".join(info.get("traceback") or [])
    pack = [f"{ROOT}/nodes/", f"{ROOT}/sampling/", "/custom_nodes/"]
    return (error.get("type") == "exception_during_validation" and str(COMFY / "execution.py") in frames
            and not any(part in frames for part in pack))


def judge(case: fc.FuzzCase, info: dict, failed: PromptFailed | None, refused: bool) -> tuple[str, str | None]:
    """(message class, problem or None) of one case's end."""
    if failed is None:
        return "ok", None
    details = failed.details
    if refused:
        errors = [(nid, e) for nid, ne in (details.get("node_errors") or {}).items() for e in ne.get("errors", [])]
        if not errors:
            err = details.get("error", {})
            return f"refused: {err.get('type')}", f"refused without node errors: {json.dumps(details)[:500]}"
        unnamed = [e for _, e in errors if not (e.get("extra_info") or {}).get("input_name")]
        types = sorted({e.get("type", "?") for _, e in errors})
        host = [e for e in unnamed if hosts_own(e)]
        unnamed = [e for e in unnamed if not hosts_own(e)]
        problem = None
        if unnamed:
            problem = f"refusal names no input: {json.dumps(unnamed)[:500]}"
        return "refused: " + ", ".join(types) + (" (ComfyUI's link check)" if host else ""), problem
    msgs = [m[1] for m in details.get("status", {}).get("messages", []) if m[0] == "execution_error"]
    if not msgs:
        return "interrupted", f"ended without an execution error: {str(failed)[:500]}"
    m = msgs[0]
    node_type, etype, text = m.get("node_type", "?"), m.get("exception_type", "?"), m.get("exception_message", "")
    names = set(info.get(node_type, {}).get("input", {}).get("required", {})) | set(
        info.get(node_type, {}).get("input", {}).get("optional", {})) | set(
        info[case.node]["input"].get("required", {})) | set(info[case.node]["input"].get("optional", {}))
    klass = f"{node_type}: {etype.split('.')[-1]}: {normalized(text)}"
    if etype.split(".")[-1] in BARE:
        return klass, f"a bare Python error: {etype}: {text[:300]}"
    if not names_an_input(text, names):
        return klass, f"the message names no input of {node_type}: {etype}: {text[:300]}"
    if len(text) > MAX_MESSAGE:
        return klass, f"a message of {len(text):,} characters (a value echoed whole?): {text[:300]}"
    return klass, None


@pytest.fixture(scope="module")
def fuzz_setup(comfy_server):
    write_input_image(comfy_server, IMAGE)
    saved = comfy_server.dirs["output"] / _saved(comfy_server, "fuzz/good", "1", "3", "4")
    (comfy_server.dirs["input"] / "fuzz").mkdir(exist_ok=True)
    shutil.copy(saved, comfy_server.dirs["input"] / LOAD_FILE)
    # A LoRA file for Load LoRA Weights, made the way a user would (Train Image LoRA → Save LoRA Weights).
    g = bi.base(bi.Ctx(IMAGE, {}, str(ESCAPE)))
    g["60"] = bi.train_lora()
    g["61"] = bi.n("SaveLoRA", lora=["60", 0], prefix="fuzz/lora")
    comfy_server.wait(comfy_server.queue(bi.prune(g, ("61",))), timeout=300)
    lora = sorted((comfy_server.dirs["output"] / "fuzz").glob("lora*.safetensors"))[-1]
    shutil.copy(lora, comfy_server.base / "loras" / fc.LORA_FILE)
    shutil.rmtree(ESCAPE, ignore_errors=True)
    info = comfy_server.object_info()  # after the files exist: Load Trajectory and Load LoRA Weights list them
    return info, bi.Ctx(IMAGE, {}, str(ESCAPE))


def selection() -> tuple[int, list[int]]:
    seed = int(os.environ.get("SDE_EDIT_FUZZ_SEED", "0"))
    only = os.environ.get("SDE_EDIT_FUZZ_ONLY", "").strip()
    if only:
        return seed, [int(i) for i in only.split(",")]
    return seed, list(range(int(os.environ.get("SDE_EDIT_FUZZ_CASES", str(SLICE)))))


def test_fuzzed_prompts_end_in_success_or_a_clear_error(comfy_server, fuzz_setup):
    info, ctx = fuzz_setup
    seed, indices = selection()
    nodes = [k for k in PACK_NODE_IDS if k in info]
    outside = ("output", "temp", "server.log", "comfyui.db", "comfyui.db-shm", "comfyui.db-wal")
    base_before, comfy_before = snapshot(comfy_server.base, outside), snapshot(COMFY, ("output", "temp", "input"))
    classes: dict[str, list] = collections.defaultdict(list)
    outcomes: collections.Counter = collections.Counter()
    problems, seconds, described = [], {}, {}
    t_all = time.monotonic()
    for done, case in enumerate(fc.cases(info, nodes, seed, indices, ctx, LOAD_FILE), start=1):
        t, failed, refused = time.monotonic(), None, False
        try:
            prompt_id = comfy_server.queue(case.graph)
        except PromptFailed as e:
            failed, refused = e, True
        else:
            try:
                comfy_server.wait(prompt_id, timeout=CASE_TIMEOUT)
            except PromptFailed as e:
                failed = e
            except TimeoutError:
                comfy_server._request("/interrupt", {})
                problems.append(f"{case.describe()}: still running after {CASE_TIMEOUT:.0f} s")
        seconds[case.index] = round(time.monotonic() - t, 3)
        described[case.index] = case.describe()[:300]
        klass, problem = judge(case, info, failed, refused)
        outcomes["ok" if failed is None else "refused" if refused else "error"] += 1
        classes[klass].append(case.index)
        if problem:
            problems.append(f"{case.describe()}: {problem}")
        assert comfy_server.proc.poll() is None, f"{case.describe()}: the server died\n{comfy_server.log_tail()}"
        if ESCAPE.exists():
            problems.append(f"{case.describe()}: wrote {sorted(ESCAPE.rglob('*'))[:3]}")
            shutil.rmtree(ESCAPE, ignore_errors=True)
        if done % GOOD_EVERY == 0 or done == len(indices):
            good_prompt(comfy_server, seed=5000 + done)
            changed = sorted(set(snapshot(comfy_server.base, outside).items()) ^ set(base_before.items()))
            if changed:
                problems.append(f"by case {case.index}: files changed outside the output folder: {changed[:5]}")
                base_before = snapshot(comfy_server.base, outside)
    comfy_changed = sorted(set(snapshot(COMFY, ("output", "temp", "input")).items()) ^ set(comfy_before.items()))
    if comfy_changed:
        problems.append(f"files changed in ComfyUI's own folder: {comfy_changed[:5]}")
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:5]
    report = {
        "seed": seed, "cases": len(indices), "first": indices[0], "last": indices[-1],
        "seconds": round(time.monotonic() - t_all, 1), "outcomes": dict(outcomes),
        "by_node": dict(collections.Counter(nodes[i % len(nodes)] for i in indices)),
        "slowest": [{"case": i, "seconds": s, "what": described[i]} for i, s in slowest],
        "classes": {k: {"count": len(v), "example": v[0]} for k, v in sorted(classes.items())},
        "problems": problems,
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    assert not problems, (f"{len(problems)} of {len(indices)} fuzz cases (seed {seed}) did not end well; replay one "
                          f"with SDE_EDIT_FUZZ_SEED={seed} SDE_EDIT_FUZZ_ONLY=<index>:\n" + "\n".join(problems[:40]))
