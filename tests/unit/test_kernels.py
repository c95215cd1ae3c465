"""kernels: agreement with k-diffusion's Euler and ancestral steps (re-derived here), the flow/VE
rescaling, Eq. 8's inverse property, DDIM's reversibility, and the edge levels σ_s = 0, σ_t = 1."""

import pytest
import torch

from sampling import (
    coeffs,
    coupled_step,
    cycle_noise,
    cycle_residual,
    ddim_step,
    ddpm_mean,
    ddpm_std,
    ddpm_step,
    eps_hat,
    forward_step,
)

D = torch.float64


def tensors(seed: int, k: int = 3) -> list[torch.Tensor]:
    """k standard normal [2, 4, 5, 5] float64 tensors."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 4, 5, 5, generator=g, dtype=D) for _ in range(k)]


def levels(path: str, t: float, s: float) -> tuple[torch.Tensor, ...]:
    """(a_t, s_t, a_s, s_s) as 0-d float64 tensors."""
    a_t, s_t = coeffs(torch.tensor(t, dtype=D), path)
    a_s, s_s = coeffs(torch.tensor(s, dtype=D), path)
    return a_t, s_t, a_s, s_s


@pytest.mark.parametrize(("t", "s"), [(14.6, 10.0), (1.0, 0.5), (0.1, 0.03), (0.5, 0.0)])
def test_ddim_on_ve_is_k_diffusion_euler(t, s):
    x, x0_hat, _ = tensors(0)
    d = (x - x0_hat) / t  # k-diffusion to_d
    euler = x + d * (s - t)
    torch.testing.assert_close(ddim_step(x, x0_hat, *levels("ve", t, s)), euler, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("t", "s"), [(14.6, 10.0), (1.0, 0.5), (0.1, 0.03), (0.5, 0.0)])
def test_ddpm_on_ve_is_k_diffusion_ancestral_with_eta_1(t, s):
    x, x0_hat, w = tensors(1)
    sigma_up = min(s, (s**2 * (t**2 - s**2) / t**2) ** 0.5)  # get_ancestral_step, eta = 1
    sigma_down = (s**2 - sigma_up**2) ** 0.5
    ancestral = x + (x - x0_hat) / t * (sigma_down - t) + w * sigma_up
    torch.testing.assert_close(ddpm_step(x, x0_hat, *levels("ve", t, s), w), ancestral, rtol=0, atol=1e-12)
    assert float(ddpm_std(*levels("ve", t, s))) == pytest.approx(sigma_up, abs=1e-14)


@pytest.mark.parametrize(("t", "s"), [(1.0, 0.9), (0.7, 0.3), (0.05, 0.0)])
def test_ddim_on_flow_is_rectified_flow_euler(t, s):
    x, x0_hat, _ = tensors(2)
    v = (x - (1 - t) * x0_hat) / t - x0_hat  # velocity ε̂ − x̂0
    torch.testing.assert_close(
        ddim_step(x, x0_hat, *levels("flow", t, s)), x + (s - t) * v, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("method", ["ddim", "ddpm"])
@pytest.mark.parametrize(("t", "s"), [(0.9, 0.6), (0.3, 0.1), (0.2, 0.0)])
def test_flow_steps_are_ve_steps_rescaled(method, t, s):
    """x_flow = (1 − σ)·x_ve at σ_ve = σ / (1 − σ): one kernel serves both paths."""
    x, x0_hat, w = tensors(3)
    t_ve, s_ve = t / (1 - t), s / (1 - s)
    step = {"ddim": ddim_step, "ddpm": lambda *a: ddpm_step(*a, w)}[method]
    flow = step(x, x0_hat, *levels("flow", t, s))
    ve = step(x / (1 - t), x0_hat, *levels("ve", t_ve, s_ve))
    torch.testing.assert_close(flow, (1 - s) * ve, rtol=0, atol=1e-12)


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_cycle_noise_drives_the_ddpm_step_to_the_recorded_point(path):
    """Eq. 8: w' plugged into the DDPM step returns x_s; the residual is τ·w'; the coupled step replays it."""
    x_t, x_s, x0_hat = tensors(4)
    lv = levels(path, 0.8, 0.5)
    w_prime = cycle_noise(x_s, x_t, x0_hat, *lv)
    torch.testing.assert_close(ddpm_step(x_t, x0_hat, *lv, w_prime), x_s, rtol=0, atol=1e-12)
    r = cycle_residual(x_s, x_t, x0_hat, *lv)
    torch.testing.assert_close(r, ddpm_std(*lv) * w_prime, rtol=0, atol=1e-12)
    torch.testing.assert_close(coupled_step(x_t, x0_hat, r, *lv), x_s, rtol=0, atol=1e-12)


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_ddim_step_run_up_then_down_returns_the_start(path):
    """With x̂0 held fixed the DDIM step is reversible: inversion (Alg. 4) is the same map run upward."""
    x_s, x0_hat, _ = tensors(5)
    up = ddim_step(x_s, x0_hat, *levels(path, 0.3, 0.7))
    torch.testing.assert_close(ddim_step(up, x0_hat, *levels(path, 0.7, 0.3)), x_s, rtol=0, atol=1e-12)


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_last_step_to_zero_is_deterministic_and_exact(path):
    x_t, x0_hat, x_s = tensors(6)
    lv = levels(path, 0.4, 0.0)
    assert float(ddpm_std(*lv)) == 0.0
    assert torch.equal(ddpm_step(x_t, x0_hat, *lv, torch.full_like(x_t, 5.0)), x0_hat)  # τ = 0: w unused
    assert torch.equal(ddpm_mean(x_t, x0_hat, *lv), x0_hat)
    r = cycle_residual(x_s, x_t, x0_hat, *lv)  # Eq. 8's w' is 0/0 here, the residual is not
    assert torch.isfinite(r).all()
    torch.testing.assert_close(coupled_step(x_t, x0_hat, r, *lv), x_s, rtol=0, atol=1e-12)


def test_flow_at_sigma_one():
    x, x0_hat, z = tensors(7)
    a_t, s_t, a_s, s_s = levels("flow", 1.0, 0.75)
    assert torch.equal(forward_step(x, a_s, s_s, a_t, s_t, z), z)  # a_t = 0: pure noise
    torch.testing.assert_close(ddpm_mean(z, x0_hat, a_t, s_t, a_s, s_s), 0.25 * x0_hat, rtol=0, atol=0)
    assert float(ddpm_std(a_t, s_t, a_s, s_s)) == 0.75
    torch.testing.assert_close(ddim_step(z, x0_hat, a_t, s_t, a_s, s_s), 0.25 * x0_hat + 0.75 * z)


def test_eps_hat_is_zero_where_s_is_zero():
    x, x0_hat, _ = tensors(8)
    s = torch.tensor([0.0, 0.5], dtype=D).reshape(2, 1, 1, 1)
    eps = eps_hat(x, x0_hat, torch.ones_like(s), s)
    assert torch.isfinite(eps).all() and torch.equal(eps[0], torch.zeros_like(eps[0]))
    torch.testing.assert_close(eps[1], (x[1] - x0_hat[1]) / 0.5)


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_per_sample_levels_equal_one_at_a_time(path):
    """Coefficients [N, 1, 1, 1] (batched recording) give what scalar coefficients give per sample."""
    x_t, x_s, x0_hat = tensors(9)
    pairs = [(0.9, 0.5), (0.3, 0.0)]
    lv = [torch.stack(c).reshape(2, 1, 1, 1) for c in zip(*(levels(path, *p) for p in pairs), strict=True)]
    batched = cycle_residual(x_s, x_t, x0_hat, *lv)
    for k, p in enumerate(pairs):
        one = cycle_residual(x_s[k], x_t[k], x0_hat[k], *levels(path, *p))
        torch.testing.assert_close(batched[k], one, rtol=0, atol=1e-15)
