"""sync-SDE's options (sampling/sync.py): a mask that keeps the rest on the source path, and `resample`, the
authors' decoupled variant that draws the source point afresh every step."""

import pytest
import torch
from test_sync import V, _guided, amount, data, gen
from unit_helpers import Counting, field, grid

from sampling import Gaussian, GaussianMixture, Guided, paired, sync_sde

PATHS = ("ve", "flow")
DISCRETIZATIONS = ("euler_maruyama", "ddpm")


def _target(path: str) -> Guided:
    means = torch.stack([field(4), field(5)]) * 1.3
    return Guided(cond=GaussianMixture(torch.tensor([0.8, 0.2]), means, torch.tensor([0.3, 0.2]), path),
                  uncond=Gaussian(field(3), V, path))


def _edit_pair(path: str):
    """Source and target that differ (mixtures, so x̂0 is not affine in x and the noise matters)."""
    means = torch.stack([field(4), field(5)])
    return paired(GaussianMixture(torch.tensor([0.3, 0.7]), means, torch.tensor([0.2, 0.4]), path), _target(path))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("discretization", DISCRETIZATIONS)
@pytest.mark.parametrize("resample", [False, True])
def test_a_zero_mask_returns_the_input_exactly_and_a_partial_one_edits_only_inside(path, discretization, resample):
    x0 = data(field(1), V, 2)
    sig, pair = grid(path, 5, t0=0.6), _edit_pair(path)
    kw = {"discretization": discretization, "resample": resample, "target_scales": 2.0}
    assert torch.equal(sync_sde(pair, x0, sig, path, gen(), mask=torch.zeros(1, 1, 1, 1), **kw), x0)
    half = torch.zeros(1, 1, *x0.shape[-2:], dtype=torch.float64)
    half[..., : x0.shape[-1] // 2] = 1
    y = sync_sde(pair, x0, sig, path, gen(), mask=half, **kw)
    assert torch.equal(y * (1 - half), x0 * (1 - half))
    assert float(((y - x0) * half).abs().max()) > 1e-3


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("discretization", DISCRETIZATIONS)
def test_resample_with_identical_prompts_returns_the_input(path, discretization):
    same = paired(_target(path), _target(path))
    x0 = data(field(1), V, 3)
    y = sync_sde(same, x0, grid(path, 6, t0=0.7), path, gen(), discretization=discretization, resample=True,
                 source_scales=2.0, target_scales=2.0)
    assert float((y - x0).abs().max()) <= 1e-10


@pytest.mark.parametrize("path", PATHS)
def test_resample_on_gaussians_is_the_closed_form_and_ignores_the_noise(path):
    """Equal variances: the difference y − x follows a deterministic recursion, so drawing the source afresh
    changes nothing; with DDPM steps y_n − x0 = s0²/(a0²·v + s0²)·Δμ exactly (test_sync's module doc)."""
    mu_src, mu_tgt, mu_u = field(1) * 0.5, field(2) * 0.5, field(3) * 0.5
    w_src, w_tgt = 1.5, 3.0
    den = paired(_guided(mu_src, mu_u, path), _guided(mu_tgt, mu_u, path))
    shift = (mu_u + w_tgt * (mu_tgt - mu_u)) - (mu_u + w_src * (mu_src - mu_u))
    x0 = data(mu_src, V, 8)
    kw = {"source_scales": w_src, "target_scales": w_tgt, "resample": True}
    for n in (1, 4, 10):
        sig = grid(path, n, t0=0.5)
        y = sync_sde(den, x0, sig, path, gen(n), discretization="ddpm", **kw)
        assert float((y - x0 - amount(sig, path, V) * shift).abs().max()) <= 1e-10
    sig = grid(path, 12, t0=0.5)
    coupled = sync_sde(den, x0, sig, path, gen(1), discretization="euler_maruyama", **kw | {"resample": False})
    for seed in (1, 2):
        y = sync_sde(den, x0, sig, path, gen(seed), discretization="euler_maruyama", **kw)
        assert float((y - coupled).abs().max()) <= 1e-10


@pytest.mark.parametrize("path", PATHS)
def test_resample_draws_fresh_source_points_one_call_per_step(path):
    pair = Counting(_edit_pair(path))
    x0, sig = data(field(1), V, 2), grid(path, 5, t0=0.6)
    a = sync_sde(pair, x0, sig, path, gen(1), resample=True)
    assert len(pair.calls) == 5 and all(rows == 4 for rows, _, _ in pair.calls)
    b = sync_sde(pair, x0, sig, path, gen(2), resample=True)
    c = sync_sde(pair, x0, sig, path, gen(1), resample=False)
    assert float((a - b).abs().max()) > 1e-3 and float((a - c).abs().max()) > 1e-3
    assert torch.equal(a, sync_sde(pair, x0, sig, path, gen(1), resample=True))
