"""samplers: model-call counts, batched recording, inversion = the DDIM step upward, masks at the
output level, dtypes, callbacks, validation, and that no input is modified."""

import math

import pytest
import torch
from unit_helpers import SHAPE, Counting, grid, models

from sampling import (
    coeffs,
    ddim_invert,
    ddim_step,
    forward_trajectory,
    gaussian_noise,
    guidance_scales,
    record_cycle_sde,
    sample,
)


def x0_of(seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """A batch of 'clean latents'."""
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def record(path: str, n: int, end: str = "zero", batch_size=None, scales=None):
    """(denoiser, forward trajectory, its Cycle-SDE record) on the guided Gaussians."""
    den = models(path)["guided"]
    g = torch.Generator().manual_seed(1)
    fwd = forward_trajectory(x0_of(), grid(path, n, end), path, g)
    scales = guidance_scales(n, 3.0, "linear") if scales is None else scales
    return den, fwd, record_cycle_sde(den, fwd, scales, batch_size=batch_size)


@pytest.mark.parametrize("method", ["ddim", "ddpm", "cycle_sde"])
@pytest.mark.parametrize("n", [1, 6])
def test_sample_makes_one_call_per_step(method, n):
    den, _, rec = record("ve", n)
    counting = Counting(den)
    noise = gaussian_noise(rec.x0, torch.Generator().manual_seed(2))
    sample(counting, rec.latents[0], rec, method, guidance_scales(n, 3.0, "linear"), noise_sampler=noise)
    assert counting.count == n
    assert [float(c[1][0]) for c in counting.calls] == pytest.approx(rec.sigmas[:-1].tolist())
    assert [float(c[2][0]) for c in counting.calls] == pytest.approx(
        guidance_scales(n, 3.0, "linear").tolist()
    )


@pytest.mark.parametrize("end", ["zero", "min"])
def test_ddim_invert_calls(end):
    """One call per step, none for a step that starts at σ = 0 (x̂0 = x there)."""
    counting = Counting(models("flow")["guided"])
    ddim_invert(counting, x0_of(), grid("flow", 5, end), "flow", 2.0)
    assert counting.count == (4 if end == "zero" else 5)


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, None, 50])
def test_batched_recording_equals_unbatched_and_makes_the_promised_calls(path, batch_size):
    n = 7
    den, fwd, one_by_one = record(path, n, batch_size=1)
    counting = Counting(den)
    rec = record_cycle_sde(counting, fwd, guidance_scales(n, 3.0, "linear"), batch_size=batch_size)
    assert counting.count == math.ceil(n / min(batch_size or n, n))
    assert sum(c[0] for c in counting.calls) == n * SHAPE[0]
    for r, r1 in zip(rec.residuals, one_by_one.residuals, strict=True):
        torch.testing.assert_close(r, r1, rtol=0, atol=1e-12)
    step_of_sample = torch.cat([c[1] for c in counting.calls])  # σ per sample, step after step
    assert torch.equal(step_of_sample, fwd.sigmas[:-1].repeat_interleave(SHAPE[0]))


def test_record_rejects_bad_input():
    den, fwd, rec = record("ve", 3)
    with pytest.raises(ValueError, match="batch_size"):
        record_cycle_sde(den, fwd, 1.0, batch_size=0)
    with pytest.raises(ValueError, match="noise-adding"):
        record_cycle_sde(den, rec, 1.0)
    with pytest.raises(ValueError, match="guidance_scales"):
        record_cycle_sde(den, fwd, torch.ones(4))


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("end", ["zero", "min"])
def test_ddim_inversion_is_the_ddim_step_run_upward(path, end):
    den = models(path)["guided"]
    sig, scales = grid(path, 5, end), guidance_scales(5, 4.0, "linear")
    inv = ddim_invert(den, x0_of(), sig, path, scales)
    assert inv.kind == "ddim_inversion" and torch.equal(inv.x0, x0_of())
    a, s = coeffs(sig, path)
    for i in range(5):
        x = inv.latents[i + 1]
        if s[i + 1] > 0:
            x0_hat = den(x, sig[i + 1].expand(SHAPE[0]), scales[i].expand(SHAPE[0]))
        else:
            x0_hat = x / a[i + 1]
        assert torch.equal(inv.latents[i], ddim_step(x, x0_hat, a[i + 1], s[i + 1], a[i], s[i]))


@pytest.mark.parametrize("method", ["ddim", "ddpm", "cycle_sde"])
@pytest.mark.parametrize("path", ["ve", "flow"])
def test_mask_keeps_the_trajectory_outside_the_editable_area_at_every_output_level(method, path):
    n = 6
    den, fwd, rec = record(path, n)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., 2:6, 3:7] = 1.0
    edited = rec.latents[0] + 3.0 * mask * torch.randn(SHAPE, generator=torch.Generator().manual_seed(5))
    states = []
    out = sample(
        den,
        edited,
        rec,
        method,
        guidance_scales(n, 3.0, "linear"),
        mask=mask,
        noise_sampler=gaussian_noise(edited, torch.Generator().manual_seed(6)),
        callback=lambda i, x, x0_hat: states.append((i, x)),
    )
    keep = (mask == 0).expand(SHAPE)
    assert [i for i, _ in states] == list(range(n))
    for i, x in states:
        assert torch.equal(x[keep], rec.latents[i + 1][keep])  # blended at the step's OUTPUT level
    assert torch.equal(out[keep], rec.x0[keep])
    assert (out[~keep] - rec.x0[~keep]).abs().max() > 1e-3  # the edit did change the editable area


def test_mask_must_fit():
    den, _, rec = record("ve", 2)
    with pytest.raises(ValueError, match="resize it to the latent size"):
        sample(den, rec.latents[0], rec, "cycle_sde", 1.0, mask=torch.ones(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sample(den, rec.latents[0], rec, "cycle_sde", 1.0, mask=torch.full((1, 1, 8, 8), 2.0))


def test_bare_sigmas():
    den = models("flow")["gaussian"]
    x = x0_of()
    counting = Counting(den)
    out = sample(counting, x, grid("flow", 3), "ddim", 1.0, path="flow")
    assert counting.count == 3 and out.shape == x.shape
    with pytest.raises(ValueError, match="path='ve' or path='flow'"):
        sample(den, x, grid("flow", 3), "ddim", 1.0)
    with pytest.raises(ValueError, match="recorded trajectory"):
        sample(den, x, grid("flow", 3), "cycle_sde", 1.0, path="flow")
    with pytest.raises(ValueError, match="recorded trajectory"):
        sample(den, x, grid("flow", 3), "ddim", 1.0, path="flow", mask=torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="noise_sampler"):
        sample(den, x, grid("flow", 3), "ddpm", 1.0, path="flow")
    with pytest.raises(ValueError, match="unknown method"):
        sample(den, x, grid("flow", 3), "euler", 1.0, path="flow")
    with pytest.raises(ValueError, match="descending"):
        sample(den, x, grid("flow", 3).flip(0), "ddim", 1.0, path="flow")


def test_solver_dtype():
    """The state is kept in `dtype`; the denoiser sees it; the result comes back in x's dtype."""
    seen = []

    def den(x, sigma, scale):
        seen.append(x.dtype)
        return models("ve")["gaussian"](x.float(), sigma, scale)  # a float32 "model"

    x = x0_of(dtype=torch.float32)
    out = sample(den, x, grid("ve", 3), "ddim", 1.0, path="ve", dtype=torch.float64)
    assert set(seen) == {torch.float64} and out.dtype == torch.float32
    fwd = forward_trajectory(x, grid("ve", 3), "ve", torch.Generator().manual_seed(0), dtype=torch.float64)
    assert all(t.dtype == torch.float64 for t in fwd.latents)
    rec = record_cycle_sde(den, fwd, 1.0)
    seen.clear()
    sample(den, rec.latents[0].float(), rec, "cycle_sde", 1.0)  # default: the trajectory's dtype
    assert set(seen) == {torch.float64}
    half = sample(models("ve")["gaussian"], x.half(), grid("ve", 2), "ddim", 1.0, path="ve")
    assert half.dtype == torch.float16


def test_forward_trajectory_is_seeded_and_takes_a_noise_sampler():
    x0, sig = x0_of(), grid("ve", 4)
    a = forward_trajectory(x0, sig, "ve", torch.Generator().manual_seed(3))
    b = forward_trajectory(x0, sig, "ve", torch.Generator().manual_seed(3))
    c = forward_trajectory(x0, sig, "ve", torch.Generator().manual_seed(4))
    assert all(torch.equal(u, v) for u, v in zip(a.latents, b.latents, strict=True))
    assert not torch.equal(a.latents[0], c.latents[0])
    calls = []

    def noise_sampler(sigma, sigma_next):
        calls.append((float(sigma), float(sigma_next)))
        return torch.zeros(SHAPE)

    d = forward_trajectory(x0, sig, "ve", noise_sampler)
    assert calls == [(sig[i + 1].item(), sig[i].item()) for i in range(3, -1, -1)]  # bottom up
    assert all(torch.equal(t, x0) for t in d.latents)  # a = 1 and no noise: x stays


def test_ddpm_draws_noise_only_where_tau_is_positive():
    calls = []
    draw = gaussian_noise(x0_of(), torch.Generator().manual_seed(0))

    def noise_sampler(sigma, sigma_next):
        calls.append(float(sigma_next))
        return draw(sigma, sigma_next)

    sample(
        models("ve")["gaussian"], x0_of(), grid("ve", 4), "ddpm", 1.0, path="ve", noise_sampler=noise_sampler
    )
    assert len(calls) == 3 and min(calls) > 0


def snapshot(*values):
    """Clones of every tensor in values (recursing into trajectories and tuples)."""
    out = []
    for v in values:
        if isinstance(v, torch.Tensor):
            out.append(v.clone())
        elif isinstance(v, tuple):
            out.append(snapshot(*v))
        elif hasattr(v, "latents"):
            out.append(snapshot(v.sigmas, v.latents, v.residuals or ()))
    return out


def same(a, b) -> bool:
    """Recursive torch.equal over snapshots."""
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return len(a) == len(b) and all(same(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_function_modifies_its_inputs_or_uses_the_global_rng(dtype):
    path, n = "flow", 4
    den = models(path)["guided"]
    x0, sig, scales = x0_of(dtype=dtype), grid(path, n).to(dtype), guidance_scales(n, 3.0, "linear", dtype)
    mask = (torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).to(dtype)
    before = snapshot(x0, sig, scales, mask)
    rng = torch.random.get_rng_state()
    fwd = forward_trajectory(x0, sig, path, torch.Generator().manual_seed(0))
    inv = ddim_invert(den, x0, sig, path, scales)
    rec = record_cycle_sde(den, fwd, scales, batch_size=3)
    trajs = snapshot(fwd, inv, rec)
    x = rec.latents[0].clone()
    x_before = x.clone()
    for method, traj in [("ddim", inv), ("ddpm", fwd), ("cycle_sde", rec)]:
        noise = gaussian_noise(x, torch.Generator().manual_seed(0))
        sample(den, x, traj, method, scales, mask=mask, noise_sampler=noise, dtype=torch.float64)
    sample(den, x, sig, "ddim", scales, path=path)
    assert same(before, snapshot(x0, sig, scales, mask))
    assert same(trajs, snapshot(fwd, inv, rec))
    assert torch.equal(x, x_before)
    assert torch.equal(torch.random.get_rng_state(), rng)  # and no draw from the global RNG
