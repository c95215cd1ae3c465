"""SDE-Drag's geometry (sampling/drag.py) against hand-computed cases."""

import json

import pytest
import torch

from sampling.drag import DragPair, copy_paste, drag_plan, parse_points, plan_length, substep, substep_count


def grid(h=8, w=8, c=2, b=1):
    """A latent whose every value names its position: x[b, c, y, x] = 1000b + 100c + 10y + x."""
    bb, cc, yy, xx = torch.meshgrid(torch.arange(b), torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij")
    return (1000 * bb + 100 * cc + 10 * yy + xx).to(torch.float64)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_parse_both_formats_and_floor_to_latent_pixels():
    pairs = [{"source": [17, 9.7], "target": [40, 33]}]
    alt = [{"x": 17, "y": 9.7}, {"x": 40, "y": 33}]
    assert parse_points(json.dumps(pairs), 64, 64) == parse_points(json.dumps(alt), 64, 64)
    p = parse_points(json.dumps(pairs), 64, 64)[0]
    assert p == DragPair((17, 9), (40, 33))
    assert p.scaled_down(8) == DragPair((2, 1), (5, 4))


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"),
    ("[]", "non-empty list"),
    ('[{"x": 1, "y": 2}]', "odd count"),
    ('[{"x": 1, "y": 2}, {"x": 64, "y": 2}]', "outside the 64×64 image"),
    ('[{"source": [-1, 0], "target": [3, 3]}]', "outside"),
    ('[{"source": [5, 5], "target": [5.9, 5.2]}]', "zero length"),
    ('[{"source": [5], "target": [6, 6]}]', "drag 0's source must be [x, y]"),
    ('[{"source": [10, 10]}]', "drag 0 has no target"),
    ('[{"source": [1, 1], "target": [3, 3]}, {"target": [10, 10]}]', "drag 1 has no source"),
    ('[{"source": [1, 1], "target": [3, 3]}, [4, 4]]', "drag 1 has no source and no target"),
])
def test_parse_refuses_bad_points_with_the_fix(text, message):
    with pytest.raises(ValueError, match=None) as e:
        parse_points(text, 64, 64)
    assert message in str(e.value)


def test_substeps_follow_the_authors_rounding():
    one = [DragPair((0, 0), (2, 0))]
    assert substep_count(one, 2.0) == 1  # not longer than one step
    assert substep_count([DragPair((0, 0), (7, 0))], 2.0) == 4  # 7/3 = 2.33 vs 7/4 = 1.75: 4 is nearer 2
    assert substep_count([DragPair((0, 0), (5, 0))], 2.0) == 3  # 5/2 = 2.5 vs 5/3 = 1.67: 3 is nearer
    assert substep_count([DragPair((0, 0), (9, 0))], 2.0) == 5  # 9/4 = 2.25 vs 9/5 = 1.8: 5 is nearer
    assert substep_count([DragPair((0, 0), (4, 1))], 2.0) == 2  # 4.12/2 = 2.06 vs 4.12/3 = 1.37: 2 is nearer
    assert substep_count([DragPair((0, 0), (3, 4)), DragPair((0, 0), (1, 0))], 1.0) == 5  # the longest decides
    pairs = [DragPair((1, 1), (8, -6))]
    steps = [substep(pairs, i, 4)[0] for i in range(4)]
    assert [s.source for s in steps] == [(1, 1), (2, 0), (4, -2), (6, -4)]  # trunc toward zero: 7/4 -> 1
    assert steps[-1].target == (8, -6) and all(a.target == b.source for a, b in zip(steps, steps[1:], strict=False))


@pytest.mark.parametrize("multi_point", ["simultaneous", "sequential"])
def test_plan_length_counts_the_plan_without_building_it(multi_point):
    pairs = [DragPair((0, 0), (9, 0)), DragPair((5, 5), (5, 12)), DragPair((3, 3), (4, 3))]
    for step in (0.5, 1.0, 2.0, 7.0):
        assert plan_length(pairs, step, multi_point) == len(drag_plan(pairs, step, multi_point))
    # a prompt-sized drag is counted at once (the plan would hold millions of sub-steps)
    assert plan_length([DragPair((0, 0), (2_000_000, 0))], 0.5, multi_point) == 4_000_000


def test_copy_paste_moves_an_amplified_square_and_renoises_the_source():
    x = grid()
    out = copy_paste(x, [DragPair((2, 2), (5, 3))], r=1, alpha=1.1, beta=0.3, generator=gen(), std=1.0)
    # target square rows 2..3, cols 4..5 gets 1.1 * the source square rows 1..2, cols 1..2
    assert torch.equal(out[..., 2:4, 4:6], 1.1 * x[..., 1:3, 1:3])
    # the source square is 0.3 * itself + sqrt(1 - 0.09) * z, so its residual has the noise's scale
    resid = out[..., 1:3, 1:3] - 0.3 * x[..., 1:3, 1:3]
    assert resid.abs().max() > 0
    z = torch.randn(resid.shape, generator=gen(), dtype=torch.float32).to(resid)
    assert torch.allclose(resid, (1 - 0.09) ** 0.5 * z)
    # everything else is untouched, and so is the input
    untouched = torch.ones(8, 8, dtype=torch.bool)
    untouched[1:3, 1:3] = untouched[2:4, 4:6] = False
    assert torch.equal(out[..., untouched], x[..., untouched]) and torch.equal(x, grid())


def test_beta_one_copies_and_borders_clip_both_squares_alike():
    x = grid()
    out = copy_paste(x, [DragPair((1, 6), (6, 0))], r=3, alpha=1.0, beta=1.0, generator=gen(), std=1.0)
    # left = min(3, 1, 6) = 1, right = min(3, 8-1, 8-6) = 2, up = min(3, 6, 0) = 0, down = min(3, 8-6, 8-0) = 2
    assert torch.equal(out[..., 0:2, 5:8], x[..., 6:8, 0:3])  # the 2x3 source block, copied exactly
    assert torch.equal(out[..., 6:8, 0:3], x[..., 6:8, 0:3])  # beta = 1: the source is unchanged
    changed = (out != x).any(0).any(0)
    assert changed.sum() > 0 and not changed[2:, :].any() and not changed[:, :5].any()


def test_overlapping_pairs_apply_in_list_order():
    x = grid()
    pairs = [DragPair((2, 2), (4, 2)), DragPair((4, 2), (6, 2))]
    out = copy_paste(x, pairs, r=1, alpha=2.0, beta=1.0, generator=gen(), std=1.0)
    # the second pair copies what the first pasted: 2 * (2 * x around (2, 2))
    assert torch.equal(out[..., 1:3, 5:7], 4 * x[..., 1:3, 1:3])


def test_copy_paste_checks_its_arguments():
    x = grid()
    with pytest.raises(ValueError, match="outside the 8×8 latent"):
        copy_paste(x, [DragPair((2, 2), (8, 2))], 1, 1.1, 0.3, gen(), 1.0)
    with pytest.raises(ValueError, match="beta must be in"):
        copy_paste(x, [DragPair((2, 2), (4, 2))], 1, 1.1, 1.5, gen(), 1.0)
    with pytest.raises(ValueError, match="half-extent"):
        copy_paste(x, [DragPair((2, 2), (4, 2))], 0, 1.1, 0.3, gen(), 1.0)
