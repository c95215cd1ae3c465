"""guidance: per-step CFG scales (constant, or linear from cfg at t0 to 1 at the last step); the LoRA scale."""

import math

import pytest
import torch

from sampling import falling_lora_scale, guidance_scales


def test_constant():
    w = guidance_scales(5, 7.5)
    assert w.shape == (5,) and w.dtype == torch.float64 and bool((w == 7.5).all())


@pytest.mark.parametrize("cfg", [3.0, 0.3, 7.5])
@pytest.mark.parametrize("n", [2, 3, 120])
def test_linear_runs_from_cfg_at_t0_to_one_at_the_last_step(n, cfg):
    w = guidance_scales(n, cfg, "linear")
    assert w.shape == (n,)
    assert w[0] == cfg and w[-1] == 1.0  # exact end points
    step = w[1:] - w[:-1]
    assert torch.allclose(step, torch.full_like(step, (1.0 - cfg) / (n - 1)), rtol=0, atol=1e-12)


def test_linear_with_one_step_is_cfg():
    assert torch.equal(guidance_scales(1, 3.0, "linear"), torch.tensor([3.0], dtype=torch.float64))


def test_rejects():
    with pytest.raises(ValueError, match="schedule"):
        guidance_scales(4, 3.0, "cosine")
    with pytest.raises(ValueError, match="steps"):
        guidance_scales(0, 3.0)
    with pytest.raises(ValueError, match="cfg"):
        guidance_scales(4, float("nan"))


def test_falling_lora_scale_is_the_authors_cosine_in_the_level():

    assert falling_lora_scale(0.0, 0.5) == 1.0 and falling_lora_scale(1.0, 0.5) == pytest.approx(0.5)
    assert falling_lora_scale(0.5, 0.5) == pytest.approx(0.75)  # halfway down the cosine
    assert falling_lora_scale(0.3, 1.0) == 1.0  # lora_min 1: constant
    us = [k / 20 for k in range(21)]
    values = [falling_lora_scale(u, 0.2) for u in us]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))  # falls all the way from t = 0 to t0
    # the authors' scale_schedule(1, lmin, k, length, 'cos') at k = u·length is the same curve
    length = 119
    for k in (1, 30, 60, 119):
        factor = (1 - math.cos(k * math.pi / length)) / 2
        assert falling_lora_scale(k / length, 0.5) == pytest.approx((1 - factor) * 1 + factor * 0.5)
    with pytest.raises(ValueError, match="u = t / t0 must lie in"):
        falling_lora_scale(1.5, 0.5)
