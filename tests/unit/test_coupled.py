"""The fused Cycle-SDE loop (sample_coupled): the same result as record-then-replay, one call a step."""

import pytest
import torch
from unit_helpers import SHAPE, Counting, grid, models

from sampling import forward_trajectory, guidance_scales, record_cycle_sde, sample
from sampling.samplers import sample_coupled


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("name", ["gaussian", "guided_mixture"])
def test_fused_equals_record_then_replay_on_an_edited_start(path, name):
    model = models(path)[name]
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    sigmas = grid(path, 12)
    forward = forward_trajectory(x0, sigmas, path, g)
    scales = guidance_scales(12, 3.0, "linear")
    edited = forward.latents[0] + 0.5 * torch.randn(SHAPE, generator=g, dtype=torch.float64)
    mask = (torch.rand((1, 1, 8, 8), generator=g) > 0.5).to(torch.float64)
    counted = Counting(model)
    fused = sample_coupled(counted, edited, forward, scales, mask=mask)
    assert [c[0] for c in counted.calls] == [2 * SHAPE[0]] * 12  # one call a step, source and edited rows
    replay = sample(model, edited, record_cycle_sde(model, forward, scales), "cycle_sde", scales, mask=mask)
    assert torch.allclose(fused, replay, rtol=0, atol=1e-12)
    # unedited, it is Cycle-SDE's exact reconstruction
    assert (sample_coupled(model, forward.latents[0], forward, scales) - x0).abs().max() <= 1e-10


def test_fused_refuses_a_trajectory_that_is_not_noise_adding():
    model = models("ve")["gaussian"]
    x0 = torch.zeros(SHAPE, dtype=torch.float64)
    traj = record_cycle_sde(model, forward_trajectory(x0, grid("ve", 3), "ve", torch.Generator()), 1.0)
    with pytest.raises(ValueError, match="noise-adding"):
        sample_coupled(model, x0, traj, 1.0)
