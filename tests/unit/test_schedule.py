"""schedule: the (a, s) of each path, KSampler's denoise=t0 tail, and level-grid validation."""

import pytest
import torch

from sampling import check_sigmas, coeffs, full_steps, keep_tail


def test_coeffs_per_path():
    sigma = torch.tensor([0.0, 0.25, 1.0, 3.0], dtype=torch.float64)
    a, s = coeffs(sigma, "ve")
    assert torch.equal(a, torch.ones(4, dtype=torch.float64)) and torch.equal(s, sigma)
    a, s = coeffs(sigma[:3], "flow")
    assert torch.equal(a, torch.tensor([1.0, 0.75, 0.0], dtype=torch.float64)) and torch.equal(s, sigma[:3])
    with pytest.raises(ValueError, match="'ve'.*'flow'"):
        coeffs(sigma, "vp")


@pytest.mark.parametrize(
    ("steps", "t0", "full"), [(120, 0.6, 200), (10, 1.0, 10), (7, 0.5, 14), (10, 0.6, 17)]
)
def test_full_steps(steps, t0, full):
    assert full_steps(steps, t0) == full


@pytest.mark.parametrize(
    ("steps", "t0", "match"),
    [
        (0, 0.5, "steps"),
        (2.5, 0.5, "steps"),
        (True, 0.5, "steps"),
        (10, 0.0, "t0"),
        (10, 1.5, "t0"),
        (10, -0.2, "t0"),
    ],
)
def test_full_steps_rejects(steps, t0, match):
    with pytest.raises(ValueError, match=match):
        full_steps(steps, t0)


def test_keep_tail_is_the_last_steps_plus_one_levels():
    full = torch.linspace(1.0, 0.0, full_steps(6, 0.6) + 1)
    tail = keep_tail(full, 6)
    assert tail.numel() == 7 and torch.equal(tail, full[-7:]) and tail[-1] == 0
    assert torch.equal(keep_tail(full, 10), full)
    with pytest.raises(ValueError, match="fewer than the 11 asked"):
        keep_tail(full, 11)


@pytest.mark.parametrize(
    ("sigmas", "match"),
    [
        (torch.tensor([0.0, 1.0]), "descending"),
        (torch.tensor([1.0, 0.5, 0.5, 0.0]), "descending"),
        (torch.tensor([1.0, -0.1]), "≥ 0"),
        (torch.tensor([float("nan"), 0.0]), "finite"),
        (torch.tensor([1.0]), "at least 2"),
        (torch.ones(2, 2), "1-D"),
    ],
)
def test_check_sigmas_rejects(sigmas, match):
    with pytest.raises(ValueError, match=match):
        check_sigmas(sigmas)


def test_flow_levels_above_one_are_rejected():
    check_sigmas(torch.tensor([1.0, 0.0]), "flow")
    check_sigmas(torch.tensor([14.6, 0.0]), "ve")
    with pytest.raises(ValueError, match="use path 've'"):
        check_sigmas(torch.tensor([14.6, 0.0]), "flow")
