"""The resource limits (nodes/limits.py) through the real server: a prompt far over a limit ends in under a
second with a message that names the input, the limit and the environment variable, and the server answers
the next prompt. The refusal times go to test-artifacts/reliability.json (docs/reliability.md quotes them)."""

from __future__ import annotations

import json
import time

import bad_inputs as bi
import pytest
from hostlib import PromptFailed
from test_reliability import IMAGE, good_prompt, record_numbers
from test_server import write_input_image

ONE = {"source": [8, 8], "target": [40, 40]}
BATCH_8 = {"60": bi.n("RepeatLatentBatch", samples=["3", 0], amount=8)}  # DiffEdit's copies: noises × batch
FAR = {
    # 5 MB of points text: refused by its length, never parsed
    "points_bytes": (bi.drag_graph(points=json.dumps([ONE]) + " " * 5_000_000), "SDEEditSDEDrag",
                     ("points: 5,000,0", "limit of 65,536", "SDE_EDIT_MAX_POINTS_BYTES")),
    "drags": (bi.drag_points_graph(json.dumps([ONE] * 1000)), "SDEEditDragPoints",
              ("points: 1,000 drags", "limit of 64", "SDE_EDIT_MAX_DRAGS")),
    # 11 sub-steps of the maximum 1000 steps
    "drag_steps": (bi.drag_graph(points=json.dumps([ONE]), steps=1000, step_size=0.5), "SDEEditSDEDrag",
                   ("steps: 11,000 sampling steps", "lower steps, raise step_size", "SDE_EDIT_MAX_DRAG_STEPS")),
    "diffedit_copies": (lambda ctx: bi.with_any_out(bi.base(ctx) | BATCH_8 | {
                            "7": bi.diffedit(noises=1000, latent=["60", 0])}, ["7", 0]),
                        "SDEEditDiffEditMask",
                        ("noises: 8,000 noised copies", "latent's batch (8)", "SDE_EDIT_MAX_DIFFEDIT_COPIES")),
}
SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def ctx(comfy_server, tmp_path_factory) -> bi.Ctx:
    write_input_image(comfy_server, IMAGE)
    return bi.Ctx(IMAGE, {}, str(tmp_path_factory.mktemp("escape")))


@pytest.mark.parametrize("what", list(FAR))
def test_a_prompt_far_over_a_limit_is_refused_within_a_second(comfy_server, ctx, what):
    build, node, expect = FAR[what]
    graph = build(ctx)
    # the same graph within the limits first, so the upstream nodes (checkpoint, image, latent) are cached
    # and the time below is the refusal's alone
    warm = json.loads(json.dumps(graph))
    small = {"points": json.dumps([ONE]), "steps": 2, "step_size": 2.0, "noises": 1}
    for spec in warm.values():
        if spec["class_type"] == node:
            spec["inputs"] |= {k: v for k, v in small.items() if k in spec["inputs"]}
    comfy_server.run(warm)
    t = time.monotonic()
    with pytest.raises(PromptFailed) as failed:
        comfy_server.run(graph, timeout=60)
    SECONDS[what] = round(time.monotonic() - t, 3)
    text = str(failed.value)
    assert f"{node} (node" in text, text[:2000]
    for s in expect:
        assert s in text, f"{s!r} is not in: {text[:2000]}"
    assert SECONDS[what] < 1.0, SECONDS
    record_numbers("limits_refusal_seconds", dict(SECONDS))
    if len(SECONDS) == len(FAR):
        good_prompt(comfy_server, seed=3000)  # the server still answers a good prompt
