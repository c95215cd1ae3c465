"""The host tier: a real ComfyUI in this process, the pack loaded by ComfyUI's own loader (scripts/inprocess.py,
the one in-process host the benchmarks share: the import order that matters, and a failed pack import fails
the tier)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    """inprocess.Comfy: run graphs, call nodes, load the tiny checkpoints."""
    from inprocess import Comfy
    from pack_nodes import PACK_NODE_IDS

    comfy = Comfy(tmp_path_factory.mktemp("comfy_host"))
    missing = sorted(set(PACK_NODE_IDS) - set(comfy.nodes.NODE_CLASS_MAPPINGS))
    if missing:
        raise RuntimeError(f"the pack loaded but these nodes are missing: {missing}")
    return comfy


@pytest.fixture(scope="session")
def family_models(host):
    """{family: (model, positive, negative, latent)} for eps, v, flow16 and flow4, built with core nodes."""
    from stage_helpers import build_family_models

    return build_family_models(host)
