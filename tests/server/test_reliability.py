"""Reliability through the real server: a user's graph never takes it down, hangs it, leaks or writes outside.

- the bad-input matrix (tests/server/bad_inputs.py, one row per case): each row is a failed prompt
  whose text names the input and the fix, and a good prompt after every few rows still comes back right;
- Cancel: POST /interrupt during a long SDE-Drag, recording and resample ends the prompt within a
  couple of progress steps, and the next prompt runs;
- determinism: one graph, one seed, bit-identical latents and images twice in one server and across a
  restart;
- soak: see tests/server/test_soak.py (500 prompts, every example workflow, marked `soak`);
- nothing lost: Save → Load Trajectory → Resample equals the direct Resample bit for bit, and a
  half-written file is never listed, a truncated one refused as damaged.

The measured numbers go to test-artifacts/reliability.json (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import pathlib
import shutil
import time
import uuid

import bad_inputs as bi
import numpy as np
import pytest
import torch
from hostlib import CHECKPOINTS, ROOT, ComfyServer, PromptFailed
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file
from test_server import reconstruction_graph, write_input_image

from sampling.trajectory import digest

IMAGE = "reliability_in.png"
GOOD_EVERY = 8  # a good prompt after every this many rows, and after the last
MAX_CANCEL_STEPS = 2
ARTIFACT = ROOT / "test-artifacts" / "reliability.json"


def record_numbers(section: str, numbers) -> None:
    """Merge `numbers` into test-artifacts/reliability.json under `section`."""
    ARTIFACT.parent.mkdir(exist_ok=True)
    try:
        data = json.loads(ARTIFACT.read_text())
    except (OSError, json.JSONDecodeError):
        data = {}
    data[section] = numbers
    ARTIFACT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def good_prompt(server: ComfyServer, seed: int) -> None:
    """The Cycle-SDE reconstruction (a new seed, so it really runs) gives back the plain VAE round trip."""
    graph = reconstruction_graph(CHECKPOINTS["sd15"], IMAGE, steps=2)
    graph["6"]["inputs"]["seed"] = seed
    entry = server.run(graph, timeout=300)
    images = {meta["filename"].split("_")[0]: np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
              for meta, png in server.images(entry)}
    assert np.abs(images["cycle"] - images["direct"]).max() <= 1


# --- trajectory files, good and bad ---------------------------------------------------------------

def _saved(server: ComfyServer, prefix: str, model: str, latent: str, prompt: str) -> str:
    """Record (2 steps) with `model` and save; the file's path, relative to the output folder."""
    g = bi.base(bi.Ctx(IMAGE, {}, ""))
    g["6"] = bi.record(model=[model, 0], latent=[latent, 0], positive=[prompt, 0], negative=[prompt, 0])
    g["7"] = bi.n("SDEEditSaveTrajectory", trajectory=["6", 1], filename_prefix=prefix)
    server.run(bi.prune(g, ("7",)))
    (path,) = sorted((server.dirs["output"]).glob(f"{prefix}_*.trajectory.safetensors"))[-1:]
    return str(path.relative_to(server.dirs["output"]))


def make_trajectory_files(server: ComfyServer, outside: pathlib.Path) -> dict[str, str]:
    """Good files (SD1.5 and SD3) and every kind of damaged one in input/reliability/.

    Files made to test a header check carry a valid checksum (as a newer version or another program that
    knows the format would write them), so the check itself is reached; the others are torn, cut short,
    edited byte by byte, or a link leading out of the folders (to a good file in `outside`)."""
    out, folder = server.dirs["output"], server.dirs["input"] / "reliability"
    folder.mkdir(exist_ok=True)
    good = out / _saved(server, "reliability/good_sd15", "1", "3", "4")
    sd3 = out / _saved(server, "reliability/good_sd3", "12", "13", "14")
    files = {"good": "reliability/good.trajectory.safetensors", "sd3": "reliability/sd3.trajectory.safetensors"}
    shutil.copy(good, server.dirs["input"] / files["good"])
    shutil.copy(sd3, server.dirs["input"] / files["sd3"])
    files["good_abs"] = str(server.dirs["input"] / files["good"])
    blob = good.read_bytes()
    with safe_open(str(good), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    header = json.loads(meta["sde_edit_trajectory"])

    def put(role: str, data: bytes | None = None, tensors_=None, metadata=None, signed: bool = True) -> None:
        name = f"reliability/{role}.trajectory.safetensors"
        files[role] = name
        if data is not None:
            (server.dirs["input"] / name).write_bytes(data)
            return
        tensors_ = tensors if tensors_ is None else tensors_
        metadata = dict(meta if metadata is None else metadata)
        if signed:
            metadata.pop("sde_edit_sha256", None)
            if "sde_edit_trajectory" in metadata:
                metadata["sde_edit_sha256"] = digest(tensors_, metadata["sde_edit_trajectory"])
        save_file(tensors_, str(server.dirs["input"] / name), metadata=metadata)

    put("truncated", blob[: len(blob) // 2])  # killed during a save that wrote in place
    put("empty", b"")
    put("text", b"not a trajectory\n" * 8)
    put("bad_header", metadata={"sde_edit_trajectory": "{not json"})
    put("no_header", metadata={"format": "pt"})
    put("version", metadata={"sde_edit_trajectory": json.dumps(header | {"version": 0})})
    put("newer", metadata={"sde_edit_trajectory": json.dumps(header | {"version": 99})})
    put("foreign", metadata={"sde_edit_trajectory": json.dumps(header | {"format": "other.trajectory"})})
    put("no_checksum", metadata={k: v for k, v in meta.items() if k != "sde_edit_sha256"}, signed=False)
    put("wrong_checksum", metadata=meta | {"sde_edit_sha256": "0" * 64}, signed=False)
    data_start = 8 + int.from_bytes(blob[:8], "little")  # safetensors: header length, header, then the tensors
    for role, at in (("flipped_first", data_start), ("flipped_mid", (data_start + len(blob)) // 2),
                     ("flipped_last", len(blob) - 1)):
        flipped = bytearray(blob)
        flipped[at] ^= 0x01  # one bit of one tensor value: a finite, plausible file
        put(role, bytes(flipped))
    for role, at in (("torn_4", 4), ("torn_8", 8), ("torn_header", data_start // 2), ("torn_data", data_start),
                     ("torn_last", len(blob) - 1)):
        put(role, blob[:at])
    shutil.copy(good, outside / "good.trajectory.safetensors")
    link = server.dirs["input"] / "reliability" / "link_out.trajectory.safetensors"
    link.symlink_to(outside / "good.trajectory.safetensors")
    files["link_out"] = "reliability/link_out.trajectory.safetensors"
    put("no_latents", tensors_={k: v for k, v in tensors.items() if k != "latents"})
    put("shapes", tensors_=tensors | {"residuals": tensors["residuals"][..., :4].contiguous()})
    put("nan_values", tensors_=tensors | {"latents": torch.full_like(tensors["latents"], float("nan"))})
    # A save killed before its rename leaves the temporary file (see nodes/files.py: save).
    tmp = f"reliability/half.trajectory.safetensors.{12345}.tmp"
    (server.dirs["input"] / tmp).write_bytes(blob[: len(blob) // 3])
    files["tmp"] = tmp
    return files


@pytest.fixture(scope="module")
def ctx(comfy_server, tmp_path_factory) -> bi.Ctx:
    write_input_image(comfy_server, IMAGE)
    escape = tmp_path_factory.mktemp("escape")
    return bi.Ctx(IMAGE, make_trajectory_files(comfy_server, tmp_path_factory.mktemp("outside")), str(escape))


@pytest.fixture(scope="module")
def registered(comfy_server) -> set[str]:
    return set(comfy_server.object_info())


# --- the bad-input matrix --------------------------------------------------------------------------

def failure_text(case: bi.Case, failed: PromptFailed) -> str:
    """The part of the failure that names `case`'s node (and the node it is)."""
    details = failed.details
    want = case.fails_at or case.node
    if case.kind == "validation":
        errors = details.get("node_errors") or {}
        assert errors, f"{case.id}: refused without node errors: {failed}"
        mine = {nid: e for nid, e in errors.items() if e.get("class_type") == want}
        assert mine, f"{case.id}: the refusal names other nodes than {want}: {json.dumps(errors)[:1500]}"
        return json.dumps(mine, ensure_ascii=False)
    text = str(failed)
    assert f"{want} (node" in text, f"{case.id}: expected {want} to fail: {text[:1500]}"
    assert "InterruptProcessingException" not in text
    return text


@pytest.mark.parametrize("index", range(len(bi.CASES)), ids=[c.id for c in bi.CASES])
def test_bad_input(comfy_server, ctx, registered, index):
    case = bi.CASES[index]
    missing = [m for m in case.needs if m not in registered]
    if missing:
        pytest.skip(f"{missing} not registered in this build")
    graph = case.build(ctx)
    if case.kind == "validation":
        with pytest.raises(PromptFailed) as failed:
            comfy_server.queue(graph)
        assert "node_errors" in failed.value.details, f"{case.id}: expected a refusal (HTTP 400): {failed.value}"
    else:
        prompt_id = comfy_server.queue(graph)  # must pass validation: the node itself says what is wrong
        with pytest.raises(PromptFailed) as failed:
            comfy_server.wait(prompt_id, timeout=300)
    text = failure_text(case, failed.value)
    for s in case.expect:
        assert s in text, f"{case.id}: {s!r} is not in the failure: {text[:2000]}"
    # Nothing written outside ComfyUI's folders.
    assert not list(pathlib.Path(ctx.escape).iterdir()), f"{case.id}: a file was written to {ctx.escape}"
    assert not (comfy_server.base / "escaped").exists(), f"{case.id}: a file was written beside the output folder"
    assert comfy_server.proc.poll() is None, f"{case.id}: the server died"
    if (index + 1) % GOOD_EVERY == 0 or index == len(bi.CASES) - 1:
        good_prompt(comfy_server, seed=1000 + index)
    if index == len(bi.CASES) - 1:
        by_node: dict[str, int] = {}
        for c in bi.CASES:
            by_node[c.node] = by_node.get(c.node, 0) + 1
        record_numbers("bad_inputs", {
            "cases": len(bi.CASES), "by_node": by_node,
            "validation": sum(c.kind == "validation" for c in bi.CASES),
            "execution": sum(c.kind == "execution" for c in bi.CASES),
            "good_prompts_between": math.ceil(len(bi.CASES) / GOOD_EVERY)})


# --- Cancel ----------------------------------------------------------------------------------------

async def _run_and_interrupt(url: str, graph: dict, node: str, after: int = 3) -> dict:
    """Queue `graph`, POST /interrupt once `node` reports `after` steps; count the steps that follow."""
    import aiohttp

    client = uuid.uuid4().hex
    seen, at_interrupt, t_interrupt, total = [], None, None, None
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws?clientId={client}") as ws:
        async with session.post(f"{url}/prompt", json={"prompt": graph, "client_id": client}) as r:
            assert r.status == 200, await r.text()
            prompt_id = (await r.json())["prompt_id"]
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            m = json.loads(msg.data)
            data = m.get("data", {})
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if m["type"] == "progress" and data.get("node") == node:
                seen.append(data["value"])
                total = data["max"]
                if at_interrupt is None and data["value"] >= after:
                    async with session.post(f"{url}/interrupt", json={"prompt_id": prompt_id}) as r:
                        assert r.status == 200
                    at_interrupt, t_interrupt = max(seen), time.monotonic()
            elif m["type"] == "execution_interrupted":
                assert at_interrupt is not None, f"interrupted before {node} made progress: {data}"
                return {"node": data.get("node_type"), "steps_after": max(seen) - at_interrupt,
                        "at_step": at_interrupt, "of": total, "seconds": round(time.monotonic() - t_interrupt, 3)}
            elif m["type"] in ("execution_success", "execution_error"):
                raise AssertionError(f"the prompt ended with {m['type']} instead of being interrupted "
                                     f"(progress seen: {seen[-5:]}, interrupt at {at_interrupt}): {data}")
    raise AssertionError("the websocket closed before the prompt ended")


def _cancel_graphs(ctx: bi.Ctx) -> dict[str, tuple[dict, str, str]]:
    steps = 300
    g = bi.base(ctx)
    drag = bi.with_latent_out(g | {"7": bi.sde_drag(steps=steps, seed=4242, cfg=3.0)}, ["7", 0])
    rec = bi.with_latent_out(bi.base(ctx) | {"6": bi.record(steps=steps, batch_size=1, cfg=2.0, seed=4243)}, ["6", 0])
    res = bi.with_latent_out(bi.base(ctx) | {"6": bi.record(steps=steps, seed=4244), "7": bi.resample()}, ["7", 0])
    return {"sde_drag": (drag, "7", "SDEEditSDEDrag"), "record": (rec, "6", "SDEEditCycleSDERecord"),
            "resample": (res, "7", "SDEEditResample")}


CANCELLED: dict[str, dict] = {}


@pytest.mark.parametrize("what", ["sde_drag", "record", "resample"])
def test_cancel_ends_the_prompt_within_a_couple_of_steps(comfy_server, ctx, what):
    graph, node, node_type = _cancel_graphs(ctx)[what]
    result = asyncio.run(asyncio.wait_for(_run_and_interrupt(comfy_server.url, graph, node), timeout=600))
    assert result["node"] == node_type
    assert result["steps_after"] <= MAX_CANCEL_STEPS, result
    CANCELLED[what] = result
    record_numbers("cancel", {"cases": CANCELLED, "max_steps_after_interrupt": max(
        r["steps_after"] for r in CANCELLED.values()), "steps_per_prompt": 300})
    good_prompt(comfy_server, seed=2000 + len(CANCELLED))  # the next prompt runs normally


# --- determinism, on a server of its own ------------------------------------------------------------

@pytest.fixture(scope="module")
def own_server(tmp_path_factory, ctx):
    server = ComfyServer(tmp_path_factory.mktemp("comfy_own"))
    server.start()
    try:
        write_input_image(server, IMAGE)
        yield server
    finally:
        server.stop()


def determinism_graph(ctx: bi.Ctx) -> dict:
    g = bi.base(ctx)
    g["6"] = bi.record(cfg=2.0, seed=5, steps=3)
    g["7"] = bi.copy_paste(seed=7)
    g["8"] = bi.resample(latent=["7", 0], method="ddpm", seed=9, cfg=2.0)
    g["9"] = bi.sde_drag(steps=2, seed=11)
    g["10"] = bi.noise_adding(seed=13)
    g["20"] = bi.n("SaveLatent", samples=["8", 0], filename_prefix="det/resample")
    g["21"] = bi.n("SaveLatent", samples=["9", 0], filename_prefix="det/drag")
    g["22"] = bi.n("SaveLatent", samples=["10", 0], filename_prefix="det/noise")
    g["23"] = bi.n("VAEDecode", samples=["8", 0], vae=["1", 2])
    g["24"] = bi.n("SaveImage", images=["23", 0], filename_prefix="det/resample")
    return bi.prune(g, ("20", "21", "22", "24"))


def run_outputs(server: ComfyServer, graph: dict) -> tuple[dict, dict]:
    """{node: latent tensor}, {node: pixels} of one run; asserts the pack's nodes really ran (not cached)."""
    entry = server.run(graph)
    cached = [m[1].get("nodes", []) for m in entry["status"]["messages"] if m[0] == "execution_cached"]
    ran_cached = {nid for nodes in cached for nid in nodes} & {"6", "7", "8", "9", "10"}
    assert not ran_cached, f"the pack's nodes came from ComfyUI's cache: {ran_cached}"
    latents, images = {}, {}
    for nid, out in entry["outputs"].items():
        for f in out.get("latents", []):
            latents[nid] = load_safetensors(server.view(f["filename"], f["subfolder"], f["type"]))["latent_tensor"]
        for f in out.get("images", []):
            images[nid] = np.asarray(Image.open(io.BytesIO(server.view(f["filename"], f["subfolder"], f["type"]))))
    assert set(latents) == {"20", "21", "22"} and set(images) == {"24"}
    return latents, images


def free_caches(server: ComfyServer) -> None:
    """POST /free: ComfyUI's worker unloads the models and drops its output cache before the next prompt."""
    server._request("/free", {"unload_models": True, "free_memory": True})
    time.sleep(1.0)


def assert_identical(a: tuple[dict, dict], b: tuple[dict, dict], what: str) -> None:
    for nid in a[0]:
        assert torch.equal(a[0][nid], b[0][nid]), f"{what}: latent of node {nid} differs"
    for nid in a[1]:
        assert np.array_equal(a[1][nid], b[1][nid]), f"{what}: image of node {nid} differs"


def test_same_graph_and_seed_give_bit_identical_outputs_in_one_server_and_after_a_restart(own_server, ctx):
    graph = determinism_graph(ctx)
    first = run_outputs(own_server, graph)
    free_caches(own_server)
    second = run_outputs(own_server, graph)
    assert_identical(first, second, "twice in one server")
    own_server.stop()
    own_server.start()
    third = run_outputs(own_server, graph)
    assert_identical(first, third, "across a restart")
    record_numbers("determinism", {"outputs_compared": len(first[0]) + len(first[1]), "runs": 3,
                                   "bit_identical": True})


# --- nothing lost ----------------------------------------------------------------------------------

def test_a_saved_trajectory_loads_back_bit_identical_and_half_written_files_are_never_picked_up(comfy_server, ctx):
    g = bi.base(ctx)
    g["6"] = bi.record(seed=77, steps=3, cfg=2.0, precision="float64")
    g["7"] = bi.resample(cfg=2.0)
    g["8"] = bi.n("SDEEditSaveTrajectory", trajectory=["6", 1], filename_prefix="reliability/roundtrip")
    g["20"] = bi.n("SaveLatent", samples=["7", 0], filename_prefix="reliability/direct")
    g = bi.prune(g, ("8", "20"))
    entry = comfy_server.run(g)
    (direct_file,) = entry["outputs"]["20"]["latents"]
    direct = load_safetensors(comfy_server.view(direct_file["filename"], direct_file["subfolder"], "output"))
    saved = sorted((comfy_server.dirs["output"] / "reliability").glob("roundtrip_*.trajectory.safetensors"))[-1]
    # The saved file is exactly what was recorded: loaded back, resampled, the same bits.
    h = bi.base(ctx)
    h["8"] = bi.n("SDEEditLoadTrajectory", model=bi.M, trajectory_file=f"reliability/{saved.name} [output]")
    h["7"] = bi.resample(cfg=2.0, latent=["8", 0], trajectory=["8", 1])
    h["20"] = bi.n("SaveLatent", samples=["7", 0], filename_prefix="reliability/reloaded")
    entry = comfy_server.run(bi.prune(h, ("20",)))
    (reloaded_file,) = entry["outputs"]["20"]["latents"]
    reloaded = load_safetensors(comfy_server.view(reloaded_file["filename"], reloaded_file["subfolder"], "output"))
    assert torch.equal(direct["latent_tensor"], reloaded["latent_tensor"])
    # No temporary file is left by a save, and one left by a killed save is never offered.
    assert not list(comfy_server.dirs["output"].rglob("*.tmp"))
    options = comfy_server.get_json("/object_info/SDEEditLoadTrajectory")["SDEEditLoadTrajectory"]
    listed = options["input"]["required"]["trajectory_file"][1]["options"] if isinstance(
        options["input"]["required"]["trajectory_file"][0], str) else options["input"]["required"]["trajectory_file"][0]
    assert ctx.files["good"] in listed and f"reliability/{saved.name} [output]" in listed
    assert not [f for f in listed if ".tmp" in f], listed
    # A file cut short (a save killed mid-write by a tool that writes in place) is refused as damaged.
    with pytest.raises(PromptFailed, match="is damaged or not an SDE Edit trajectory"):
        comfy_server.run(bi.load_graph("truncated")(ctx))
    record_numbers("nothing_lost", {"reload_bit_identical": True, "tmp_listed": False})
