"""The host tier: a real ComfyUI in this process, the pack loaded by ComfyUI's own loader
(hostlib.load_in_process: the import order that matters, and a failed pack import fails the tier)."""

from __future__ import annotations

import asyncio
import uuid

import pytest


class StubServer:
    """What PromptExecutor needs of PromptServer when no HTTP server runs."""

    client_id = None
    last_node_id = None
    last_prompt_id = None

    def __init__(self):
        self.messages: list[tuple[str, dict]] = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def queue_updated(self):
        pass


class Host:
    """The loaded ComfyUI: run graphs, call nodes, load the tiny checkpoints."""

    def __init__(self, nodes_module, execution_module):
        self.nodes = nodes_module
        self.execution = execution_module
        self._checkpoints: dict = {}

    def node(self, node_id: str):
        return self.nodes.NODE_CLASS_MAPPINGS[node_id]

    def run_graph(self, prompt: dict) -> dict:
        """Validate and execute an API-format graph; return {node_id: (output 0, output 1, …)} of every node."""
        prompt_id = uuid.uuid4().hex
        valid = asyncio.run(self.execution.validate_prompt(prompt_id, prompt, None))
        if not valid[0]:
            raise ValueError(f"invalid graph: {valid[1]} {valid[3]}")
        server = StubServer()
        executor = self.execution.PromptExecutor(server, cache_type=self.execution.CacheType.CLASSIC,
                                                 cache_args={"lru": 0, "ram": 0})
        executor.execute(prompt, prompt_id, {}, valid[2])
        if not executor.success:
            errors = [d for e, d in executor.status_messages if e == "execution_error"]
            raise RuntimeError(f"graph failed: {errors}")
        outputs = {nid: executor.caches.outputs.get(nid) for nid in prompt}
        return {nid: tuple(o[0] for o in entry.outputs) for nid, entry in outputs.items() if entry is not None}

    def checkpoint(self, name: str):
        """(model, clip, vae) of a tiny checkpoint, loaded once per session."""
        if name not in self._checkpoints:
            from hostlib import CHECKPOINTS

            loader = self.node("CheckpointLoaderSimple")()
            self._checkpoints[name] = loader.load_checkpoint(CHECKPOINTS[name])
        return self._checkpoints[name]


@pytest.fixture(scope="session")
def host(tmp_path_factory) -> Host:
    from hostlib import load_in_process

    nodes = load_in_process(tmp_path_factory.mktemp("comfy_host"))
    import execution
    from pack_nodes import PACK_NODE_IDS

    missing = sorted(set(PACK_NODE_IDS) - set(nodes.NODE_CLASS_MAPPINGS))
    if missing:
        raise RuntimeError(f"the pack loaded but these nodes are missing: {missing}")
    return Host(nodes, execution)


@pytest.fixture(scope="session")
def family_models(host):
    """{family: (model, positive, negative, latent)} for eps, v, flow16 and flow4, built with core nodes."""
    from stage_helpers import build_family_models

    return build_family_models(host)
