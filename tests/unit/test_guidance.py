"""guidance: per-step CFG scales, constant or linear from 1 (last step) to cfg (step 0, at t0)."""

import pytest
import torch

from sampling import guidance_scales


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
