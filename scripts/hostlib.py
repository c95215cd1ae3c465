"""The test host: where it lives, and a real ComfyUI server driven over HTTP.

Shared by the test tiers (server, browser) and the main job (scripts/demo.py). Standard library
only, so it runs under any Python; the server itself runs in the host venv built by
scripts/setup_host.sh.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOST = ROOT / ".host"
COMFY = HOST / "ComfyUI"
PYTHON = HOST / "venv" / "bin" / "python"
PACK_LINK = COMFY / "custom_nodes" / "sde-edit"
# The frontends the browser tier runs on: the one ComfyUI 0.3.75 pins (installed from host-requirements.txt,
# served by default) and a current one (comfyui-frontend-package from PyPI, unpacked by setup_host.sh and
# served with --front-end-root). {version: static folder, or None for ComfyUI's default}.
PINNED_FRONTEND, NEWER_FRONTEND = "1.32.9", "1.58.1"
FRONTENDS = {PINNED_FRONTEND: None, NEWER_FRONTEND: HOST / "frontend" / NEWER_FRONTEND}
CHECKPOINTS = {
    "sd15": "sde_edit_tiny_sd15.safetensors",  # EPS, 4 latent channels
    "sd3": "sde_edit_tiny_sd3.safetensors",  # flow (CONST), 16 latent channels
    "sd15_full": "sde_edit_full_sd15.safetensors",  # SD1.5's real architecture, random weights (checkpoints-full)
}


def require_host() -> None:
    """Fail with the fix when the host has not been built."""
    missing = [p for p in (PYTHON, COMFY / "main.py", PACK_LINK) if not p.exists()]
    if missing:
        raise RuntimeError(f"the test host is not built ({missing[0]} is missing): run `make setup`")


def cpu_threads() -> int:
    """Torch threads for a CPU job here: 1 when something else already keeps a core busy (load average ≥ 1).

    On a 2-core machine shared with another torch process, two threads each spin-wait for the other
    and run 4–30× slower than one (docs/shapes_training.md, docs/design.md §8); set OMP_NUM_THREADS to choose.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    return 1 if os.getloadavg()[0] >= 1.0 else (os.cpu_count() or 1)


def browser_script(script: str, url: str, mode: str, *args, timeout: float = 300) -> dict:
    """Run tests/browser/<script> (node + playwright-core, Debian's chromium) against the ComfyUI at `url` in
    `mode` ("classic" or "vue") and return the JSON report it prints last; RuntimeError with its output if it
    fails. The browser tier and the asset generators (workflows.py: thumbnails, blueprints) share this."""
    env = dict(os.environ, NODE_PATH=str(HOST / "node" / "node_modules"))
    proc = subprocess.run(["node", str(ROOT / "tests" / "browser" / script), url, mode, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        raise RuntimeError(f"{script} ({mode}) failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PromptFailed(RuntimeError):
    """A prompt the server refused (HTTP 400) or whose execution ended in an error."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


class ComfyServer:
    """ComfyUI's own `main.py` on 127.0.0.1, in its own folders under `base`; stopped by its PID."""

    def __init__(self, base: pathlib.Path, port: int | None = None, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None):
        """`env`: variables set for the server over this process's environment (e.g. a TMPDIR of its own, so a
        test can count the temporary files the server leaves)."""
        self.base = pathlib.Path(base)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.log_path = self.base / "server.log"
        self.dirs = {name: self.base / name for name in ("input", "output", "temp", "user")}

    def start(self, timeout: float = 120.0) -> ComfyServer:
        require_host()
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        # A fresh user folder would open the template browser over the canvas.
        settings = self.dirs["user"] / "default" / "comfy.settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        if not settings.exists():
            settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
        # A loras folder of the server's own (tests put LoRA files there, never into ComfyUI's tree).
        (self.base / "loras").mkdir(exist_ok=True)
        paths = self.base / "extra_model_paths.yaml"
        paths.write_text(f"sde_edit_test:\n    base_path: {json.dumps(str(self.base))}\n    loras: loras\n")
        cmd = [
            str(PYTHON), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
            "--disable-auto-launch",
            "--output-directory", str(self.dirs["output"]), "--input-directory", str(self.dirs["input"]),
            "--temp-directory", str(self.dirs["temp"]), "--user-directory", str(self.dirs["user"]),
            "--database-url", f"sqlite:///{self.base / 'comfyui.db'}", "--extra-model-paths-config", str(paths),
            *self.extra_args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env.setdefault("OMP_NUM_THREADS", str(cpu_threads()))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=COMFY, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.get_json("/system_stats")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def __enter__(self) -> ComfyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # --- HTTP -------------------------------------------------------------------------------------
    def _request(self, path: str, data: dict | None = None, timeout: float = 30.0) -> bytes:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()

    def get_json(self, path: str) -> dict:
        return json.loads(self._request(path, timeout=10))

    def object_info(self) -> dict:
        return json.loads(self._request("/object_info", timeout=60))

    def queue(self, prompt: dict, client_id: str | None = None) -> str:
        """POST /prompt; raise PromptFailed with the server's node_errors on HTTP 400."""
        try:
            out = json.loads(self._request("/prompt", {"prompt": prompt, "client_id": client_id or uuid.uuid4().hex}))
        except urllib.error.HTTPError as e:
            details = json.loads(e.read() or b"{}")
            raise PromptFailed(f"/prompt refused the graph: {json.dumps(details)[:2000]}", details) from None
        return out["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 300.0) -> dict:
        """Poll /history until the prompt completes; raise PromptFailed if it ended in an error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hist = self.get_json(f"/history/{prompt_id}")
            entry = hist.get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                status = entry["status"]
                if status.get("status_str") == "error" or not status.get("completed"):
                    failures = ("execution_error", "execution_interrupted")
                    msgs = [m[1] for m in status.get("messages", []) if m[0] in failures]
                    said = "; ".join(f"{m.get('node_type')} (node {m.get('node_id')}): "
                                     f"{m.get('exception_type', 'interrupted')}: {m.get('exception_message', '')}"
                                     for m in msgs)
                    raise PromptFailed(f"prompt {prompt_id} failed: {said}", entry)
                return entry
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI died while running {prompt_id}:\n{self.log_tail()}")
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} still running after {timeout:.0f} s")

    def run(self, prompt: dict, timeout: float = 300.0) -> dict:
        return self.wait(self.queue(prompt), timeout)

    def view(self, filename: str, subfolder: str = "", folder_type: str = "output") -> bytes:
        q = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": folder_type})
        return self._request(f"/view?{q}")

    def images(self, history_entry: dict) -> list[tuple[dict, bytes]]:
        """Every image a finished prompt produced, fetched through /view."""
        out = []
        for node_out in history_entry.get("outputs", {}).values():
            for img in node_out.get("images", []):
                out.append((img, self.view(img["filename"], img.get("subfolder", ""), img.get("type", "output"))))
        return out


def load_in_process(base: pathlib.Path, cpu: bool = True):
    """ComfyUI in this process with this pack loaded by ComfyUI's own loader; returns its `nodes` module.

    The import order matters (docs/design.md §9): ComfyUI's folder first on sys.path, `--cpu`
    set before `comfy.model_management` is imported, `utils.install_util` before `nodes` (else 13
    built-in nodes silently fail to load). Output, input and temp folders go under `base`. ComfyUI
    only logs a pack that fails to import: here that raises, with the log.
    """
    import asyncio
    import logging
    import sys

    require_host()
    if str(COMFY) not in sys.path:
        sys.path.insert(0, str(COMFY))
    import comfy.cli_args

    comfy.cli_args.args.cpu = cpu
    import folder_paths
    import utils.install_util  # noqa: F401

    for kind, setter in (("output", folder_paths.set_output_directory), ("input", folder_paths.set_input_directory),
                         ("temp", folder_paths.set_temp_directory)):
        (pathlib.Path(base) / kind).mkdir(parents=True, exist_ok=True)
        setter(str(pathlib.Path(base) / kind))
    import nodes

    records: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: records.append(handler.format(record))
    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    logging.getLogger().addHandler(handler)
    try:
        loaded = asyncio.run(nodes.load_custom_node(str(PACK_LINK)))
    finally:
        logging.getLogger().removeHandler(handler)
    if not loaded:
        raise RuntimeError("ComfyUI could not load the pack:\n" + "\n".join(records[-40:]))
    return nodes
