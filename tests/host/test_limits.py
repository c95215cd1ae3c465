"""The bounds of nodes/limits.py on real ComfyUI models: a prompt over a limit is refused at once, before any
model call, with a message naming the input, the limit and its variable; batched calls that would not fit the
memory budget are split into the predicted number of calls and give the batch-1 result."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch
from stage_helpers import CallCounter, record
from test_diffedit_nodes import diffedit
from test_drag_nodes import drag


def refused(fn, *expect: str) -> float:
    """Seconds until `fn` raised a ValueError containing every string of `expect`."""
    t = time.perf_counter()
    with pytest.raises(ValueError) as e:
        fn()
    seconds = time.perf_counter() - t
    for s in expect:
        assert s in str(e.value), str(e.value)
    return seconds


def test_prompts_over_a_limit_are_refused_before_any_model_call(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    counter = CallCounter(model)
    m = counter.model
    one = [{"source": [8, 8], "target": [40, 40]}]
    cases = {
        # 2 million characters of points text: refused by its length, not parsed
        "points_bytes": (lambda: drag(host, m, pos, neg, latent, points=json.dumps(one) + " " * 2_000_000),
                         ("points: 2,000,0", "SDE_EDIT_MAX_POINTS_BYTES", "limit of 65,536")),
        "drags": (lambda: drag(host, m, pos, neg, latent, points=json.dumps(one * 65)),
                  ("points: 65 drags", "limit of 64", "SDE_EDIT_MAX_DRAGS")),
        # a drag of 5.7 latent px at step 0.5: 11 sub-steps of 1000 steps
        "drag_steps": (lambda: drag(host, m, pos, neg, latent, points=json.dumps(one), steps=1000, step_size=0.5),
                       ("steps: 11,000 sampling steps", "11 sub-steps", "SDE_EDIT_MAX_DRAG_STEPS")),
        "diffedit_copies": (lambda: diffedit(host, m, pos, neg, latent, noises=1000),
                            ("noises: 2,000 noised copies", "latent's batch (2)", "SDE_EDIT_MAX_DIFFEDIT_COPIES")),
    }
    seconds = {name: refused(fn, *expect) for name, (fn, expect) in cases.items()}
    assert counter.calls == []
    assert max(seconds.values()) < 1.0, seconds


def test_a_limit_follows_its_environment_variable(host, family_models, monkeypatch):
    model, pos, neg, latent = family_models["eps"]
    points = json.dumps([{"source": [8, 8], "target": [40, 8]}])  # 4 latent px: 2 sub-steps at step 2
    drag(host, model, pos, neg, latent, points=points, steps=2)  # 4 steps: within the default
    monkeypatch.setenv("SDE_EDIT_MAX_DRAG_STEPS", "3")
    refused(lambda: drag(host, model, pos, neg, latent, points=points, steps=2),
            "steps: 4 sampling steps", "limit of 3")
    monkeypatch.setenv("SDE_EDIT_MAX_DRAG_STEPS", "many")
    refused(lambda: drag(host, model, pos, neg, latent, points=points, steps=2),
            "SDE_EDIT_MAX_DRAG_STEPS='many' must be a positive integer")


def budget_for(model, latent, rows_per_item: int, items: int) -> str:
    """SDE_EDIT_MEMORY_BUDGET_MB that lets exactly `items` items into one call (the model's own estimate)."""
    per_row = model.model.memory_required([1, *latent["samples"].shape[1:]])
    return repr((1.5 * per_row * rows_per_item * (items + 0.5)) / 2**20)


@pytest.mark.parametrize("cfg", [1.0, 3.0])
def test_batch_all_recording_splits_into_the_calls_that_fit_and_matches_batch_one(host, family_models, monkeypatch,
                                                                                   caplog, cfg):
    model, pos, neg, latent = family_models["eps"]
    steps, b, fit = 8, latent["samples"].shape[0], 3
    branches = 1 if cfg == 1 else 2
    counter = CallCounter(model)
    _, whole = record(host, counter.model, pos, neg, latent, cfg=cfg, steps=steps, batch_size=0)
    assert len(counter.calls) == 1  # without a budget all 8 steps fit in this machine's memory
    one = record(host, model, pos, neg, latent, cfg=cfg, steps=steps, batch_size=1)[1]
    monkeypatch.setenv("SDE_EDIT_MEMORY_BUDGET_MB", budget_for(model, latent, b * branches, fit))
    counter.calls.clear()
    with caplog.at_level("INFO"):
        _, split = record(host, counter.model, pos, neg, latent, cfg=cfg, steps=steps, batch_size=0)
    assert "SDE Edit: Cycle-SDE Record steps: 8 in 3 calls of up to 3" in caplog.text  # the log says so
    assert len(counter.calls) == math.ceil(steps / fit)  # the prediction: 3 calls of 3, 3, 2 steps
    assert counter.calls == [fit * b * branches, fit * b * branches, (steps - 2 * fit) * b * branches]
    # batch shapes change a model's numbers slightly; the node's tooltip documents about 1e-4 at CFG 3
    for name, traj in (("split", split), ("whole", whole)):
        err = max(float((r - r1).abs().max()) for r, r1 in zip(traj.residuals, one.residuals, strict=True))
        assert err <= 1e-4, (name, err)
    # an explicit batch_size above what fits is lowered too
    counter.calls.clear()
    record(host, counter.model, pos, neg, latent, cfg=cfg, steps=steps, batch_size=6)
    assert len(counter.calls) == 3


def test_diffedit_copies_split_into_the_calls_that_fit(host, family_models, monkeypatch):
    model, pos, neg, latent = family_models["eps"]
    b, noises, fit = latent["samples"].shape[0], 5, 2
    whole = diffedit(host, model, pos, neg, latent, noises=noises)
    monkeypatch.setenv("SDE_EDIT_MEMORY_BUDGET_MB", budget_for(model, latent, 2 * b, fit))
    counter = CallCounter(model)
    split = diffedit(host, counter.model, pos, neg, latent, noises=noises)
    assert counter.calls == [2 * fit * b, 2 * fit * b, 2 * b]  # both prompts on each copy
    assert torch.equal(whole[0], split[0])
    assert float((whole[1] - split[1]).abs().max()) <= 1e-4

