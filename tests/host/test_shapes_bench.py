"""The shapes benchmarks (scripts/bench_shapes.py) in miniature: 3 scenes per task on the real shapes model
through the pack's nodes, their model-call accounting, and the report built from their rows."""

from __future__ import annotations

import math
import re

import pytest

from sampling.drag import parse_points, substep_count
from shapes import metrics, world

pytestmark = pytest.mark.bench

STEPS = 6  # steps below t0 (the benchmark: 20)
N = 2
DRAGS = ("copy_paste", "ode", "sde", "sde_vacated")  # of bench.shapes_config.DRAG_VARIANTS: the floor, ODE, two SDEs


@pytest.fixture(scope="module")
def bench(host):
    from bench.shapes_run import Bench

    return Bench(host)


@pytest.fixture(scope="module")
def results(bench, tmp_path_factory):
    """{task: rows} of the three tasks on 3 scenes, written as the benchmark writes them."""
    from bench.shapes_run import write_rows
    from bench.shapes_tasks import task_rows

    out = tmp_path_factory.mktemp("shapes_bench")
    rows = {
        "drag": task_rows("drag", bench, N, grid_path=out / "drag_examples.png", steps=STEPS, methods=DRAGS),
        "semantic": task_rows("semantic", bench, N, grid_path=out / "semantic_examples.png", steps=STEPS),
        "diffedit": task_rows("diffedit", bench, N, grid_path=out / "diffedit_examples.png"),
        "sync": task_rows("sync", bench, N, grid_path=out / "sync_examples.png", steps=STEPS),
    }
    for task, r in rows.items():
        write_rows(task, r, out, scenes=N, threads=1, seconds=1.0)
    return out, rows


def test_drag_rows_count_the_calls_of_algorithm_1(results):
    from bench.shapes_config import drag_cases

    _, rows = results
    rows = rows["drag"]
    assert len(rows) == (2 * len(DRAGS) - 1) * N  # unmasked, then masked (no floor)
    for k, (_, _, _, pts) in enumerate(drag_cases(N)):
        pair = parse_points(f'[{{"source": [{pts[0]}, {pts[1]}], "target": [{pts[2]}, {pts[3]}]}}]', 32, 32)
        m = substep_count(pair, 2.0)
        for masked in (False, True):
            by = {r["method"]: r for r in rows if r["scene"] == k and r["masked"] == masked}
            assert by.get("copy_paste", {"calls": 0})["calls"] == 0
            assert by["sde"]["calls"] == by["sde_vacated"]["calls"] == m * STEPS  # record and replay fused
            assert by["ode"]["calls"] == m * (2 * STEPS - 1)  # inversion (its last level needs no call) and DDIM


def test_drags_move_the_object_towards_the_target(results):
    """On the learned model SDE-Drag ends nearer the target than where the object started (ODE-Drag is not
    held to it: at few steps it can lose the object, which is what the benchmark measures), and the floor (a
    paste on the clean image) lands on the target but leaves noise in the hole."""
    _, rows = results
    for r in rows["drag"]:
        assert 0 <= r["iou"] <= 1 and r["hole_err"] >= 0 and r["outside_err"] >= 0
        assert r["catastrophic"] in (0, 1) and r["err"] > 0 and r["realism"] >= 0
        if r["method"].startswith("sde"):
            assert r["lost"] == 0 and r["dist"] < r["drag_px"], r
        elif r["method"] == "copy_paste":
            assert r["dist"] < 1.5 and r["iou"] > 0.6, r
    floor = [r for r in rows["drag"] if r["method"] == "copy_paste"]
    sde = [r for r in rows["drag"] if r["method"] == "sde" and not r["masked"]]
    assert sum(r["hole_err"] for r in sde) < sum(r["hole_err"] for r in floor)  # resampling cleans up the hole
    assert sum(r["realism"] for r in sde) < sum(r["realism"] for r in floor)  # the floor's noisy hole is unreal


def test_semantic_rows_and_their_costs(results):
    _, rows = results
    rows = rows["semantic"]
    assert len(rows) == N * 2 * 7
    for k in range(N):
        for edit in ("recolour", "reshape"):
            by = {r["method"]: r for r in rows if r["scene"] == k and r["edit"] == edit}
            assert by["cycle_sde"]["calls"] == 2 * STEPS  # record (batch 1) + replay
            assert by["diffedit_sde"]["calls"] == by["cycle_sde"]["calls"] + 1  # + the mask: one batched pass
            assert by["diffedit_ode"]["calls"] == by["ddim"]["calls"] + 1
            assert by["sync_sde"]["calls"] == STEPS  # both paths in one pass
            assert by["ddpm"]["calls"] == STEPS  # noise-adding needs no call
            assert by["masked_cycle_sde"]["calls"] == 2 * STEPS  # record at CFG 1, replay (one pass a step)
            for r in by.values():
                assert r["class_ok"] in (0, 1) and 0 <= r["bg_err"] < 1 and r["kind_ok"] in (0, 1)
                # the best in-world fit is at least as near as the answer (an in-world scene), up to the fit's slack
                assert 0 <= r["realism"] <= r["err"] + 0.005 and r["split"] == "heldout"


def test_diffedit_rows(results):
    from bench.shapes_config import DIFFEDIT_VARIANTS, NOISES, STRENGTHS, THRESHOLDS

    _, rows = results
    rows = rows["diffedit"]
    # one raw row per swept setting, and every map variant at the defaults (the default setting counted once)
    assert len(rows) == N * 2 * (len(NOISES) + len(STRENGTHS) - 2 + len(DIFFEDIT_VARIANTS))
    assert all(r["calls"] == 1 for r in rows)  # every copy under both prompts in one pass (batch_size 0)
    for r in rows:
        ious = [r[f"iou@{t}"] for t in THRESHOLDS]
        assert all(0 <= v <= 1 for v in ious)
    raw = [r for r in rows if r["variant"] == "raw"]
    # The map does find the object: at its best threshold it overlaps the true mask clearly (0.68 on 100 scenes).
    best = max(sum(r[f"iou@{t}"] for r in raw) / len(raw) for t in THRESHOLDS)
    assert best > 0.45, best
    # Hole filling never removes a pixel from the mask: at every threshold its mask contains the raw one, so its
    # IoU can only fall where it adds pixels outside the object; here, at the high thresholds, it helps.
    filled = {(r["scene"], r["reference"]): r for r in rows if r["variant"] == "fill"}
    high = [filled[r["scene"], r["reference"]]["iou@0.9"] - r["iou@0.9"] for r in raw
            if r["noises"] == 10 and r["noise_strength"] == 0.5]
    assert sum(high) / len(high) >= 0, high


def test_sync_rows_count_rows_per_option(results):
    """sync-SDE: one pass a step; 2B rows and the negative's 2B under CFG on both sides, 3B with the source at 1;
    the mask keeps everything farther than 2 px from the object as the input (= the answer there)."""
    from bench.shapes_config import SYNC_VARIANTS

    _, rows = results
    rows = rows["sync"]
    assert len(rows) == N * 2 * len(SYNC_VARIANTS)
    for r in rows:
        assert r["calls"] == STEPS
        assert r["rows"] == (3 if r["method"] == "sync_sde_target_cfg_only" else 4) * STEPS
        if r["method"] == "sync_sde_masked":
            assert r["bg_err"] < 1e-4, r


def test_report_from_the_rows(results):
    from bench.shapes_report import write_report

    out, _ = results
    text = write_report(out, out / "report.md")
    for label in ("SDE-Drag", "ODE-Drag", "copy-paste", "DiffEdit-SDE", "DiffEdit-ODE", "sync-SDE", "Cycle-SDE",
                  "… resample"):
        assert f"| {label}" in text
    assert "SDE better?" in text and not re.search(r"\bnan\b", text)
    assert "### Masked" in text and "whole-image err" in text and "heldout split" in text
    for png in ("drag_by_length.png", "diffedit.png", "drag_examples.png", "semantic_examples.png"):
        assert (out / png).stat().st_size > 1000
    assert "(drag_examples.png)" in text  # plots linked relative to the report


def test_cases_are_seeded_and_inside_the_image():
    from bench.shapes_config import drag_cases, edit_cases

    a, b = drag_cases(20), drag_cases(20)
    assert [x[3] for x in a] == [x[3] for x in b]
    for scene, answer, prompt, (sx, sy, tx, ty) in a:
        o = answer.shapes[0]
        assert o.r <= o.cx <= 1 - o.r and o.r <= o.cy <= 1 - o.r
        assert 0.1 * 32 - 1e-6 <= math.hypot(tx - sx, ty - sy) <= 0.6 * 32 + 1e-6
        assert world.parse_prompt(prompt) == world.class_index(scene.shapes[0].kind, scene.shapes[0].colour)
    for scene, answers in edit_cases(20):
        assert answers["recolour"].shapes[0].colour != scene.shapes[0].colour
        assert answers["reshape"].shapes[0].kind != scene.shapes[0].kind


def test_known_answers_score_as_known(results):
    """The metrics on answers known in the shapes world: the exact render of the answer scores (about) 0 and
    is a clean, in-world scene; leaving the object where it was scores the drag's full length (and, for a
    recolour, the wrong class); the copy-paste floor scores worse than the exact answer."""
    from bench.shapes_config import SIZE, drag_cases, edit_cases

    _, rows = results
    for k, (scene, answer, _, pts) in enumerate(drag_cases(N)):
        exact = metrics.drag_metrics(world.render(answer, SIZE)[0], scene, answer, 0)
        assert exact["err"] < 1e-6 and exact["hole_err"] < 1e-6 and exact["outside_err"] < 1e-6, exact
        assert exact["dist"] < 0.5 and exact["iou"] > 0.8 and exact["lost"] == exact["catastrophic"] == 0, exact
        assert exact["realism"] < 0.02, exact
        unmoved = metrics.drag_metrics(world.render(scene, SIZE)[0], scene, answer, 0)
        assert unmoved["dist"] == pytest.approx(math.hypot(pts[2] - pts[0], pts[3] - pts[1]), abs=0.75), unmoved
        assert unmoved["err"] > 0.01 and unmoved["hole_err"] > 0.1
        floor = next(r for r in rows["drag"] if r["scene"] == k and r["method"] == "copy_paste")
        assert floor["err"] > exact["err"] + 0.01 and floor["realism"] > exact["realism"], floor
    for scene, answers in edit_cases(N):
        exact = metrics.edit_metrics(world.render(answers["recolour"], SIZE)[0], scene, answers["recolour"], 0)
        assert exact["class_ok"] == 1 and exact["shift"] < 0.5 and exact["err"] < 1e-6 and exact["bg_err"] < 1e-6
        unedited = metrics.edit_metrics(world.render(scene, SIZE)[0], scene, answers["recolour"], 0)
        assert unedited["colour_ok"] == 0 and unedited["class_ok"] == 0 and unedited["err"] > 0.01, unedited


def test_drag_lora_rows_and_report(bench, tmp_path):
    """drag_lora in miniature (1 scene, a 5-step LoRA): the LoRA changes the drag, not its model calls, training
    is counted apart, and the report's section is built from the rows."""
    from bench.shapes_config import LORA
    from bench.shapes_report import write_report
    from bench.shapes_run import write_rows
    from bench.shapes_tasks import task_rows

    rows = task_rows("drag_lora", bench, 1, grid_path=tmp_path / "drag_lora_examples.png", steps=STEPS,
                     lora={"steps": 5})
    by = {r["method"]: r for r in rows}
    assert set(by) == {"copy_paste", "sde_moved", "ode", "sde_moved_lora", "ode_lora"}
    for base in ("sde_moved", "ode"):
        plain, lora = by[base], by[f"{base}_lora"]
        assert lora["lora"] and not plain["lora"] and plain["split"] == "heldout"
        assert (lora["calls"], lora["rows"]) == (plain["calls"], plain["rows"]) and plain["calls"] > 0
        assert abs(lora["err"] - plain["err"]) + abs(lora["realism"] - plain["realism"]) > 1e-6, (plain, lora)
    assert all(r["lora_calls"] == 5 and 0 < r["lora_loss"] < 10 and r["lora_seconds"] > 0 for r in rows)
    write_rows("drag_lora", rows, tmp_path, scenes=1, threads=1, seconds=1.0, lora=LORA | {"steps": 5})
    text = write_report(tmp_path, tmp_path / "report.md")
    assert "## Drag with a LoRA of the input image" in text and "| SDE-Drag + LoRA |" in text
    assert "LoRA better?" in text and "Does the LoRA help here?" in text and not re.search(r"\bnan\b", text)
