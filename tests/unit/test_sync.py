"""sync-SDE (sampling/sync.py): identity under identical prompts, the analytic edit on Gaussian data,
the source's noise kept, one call per step, and that it is the one coupled-step mechanism of Cycle-SDE.

The analytic amount. For data x0 ~ N(μ_c, v_c·I) under conditioning c, the exact reverse process
started at x_σ0 = z has E_c[x0 | x_σ0 = z] = μ_c + a0·v_c / (a0²·v_c + s0²)·(z − a0·μ_c). The DDPM
step's mean is exactly E_c[x_s | x_t] (its x̂0 and ε̂ are affine in x0 given x_t), and these means
compose, so the target path's mean follows the target's reverse process while the shared noise
averages out (E[r_i] = 0 over the source's path, x0 drawn from the source). With z = x_σ0 of the
source, E[z] = a0·μ_src, which gives

    E[y_n − x0] = s0² / (a0²·v_tgt + s0²) · (μ_tgt − μ_src)

at every step count. When v_tgt = v_src the two paths' x̂0 have the same slope in x, y − x follows a
deterministic recursion, and every sample moves by exactly this amount, whatever the noise.
Classifier-free guidance of two Gaussians of one variance is a Gaussian of mean u + w·(c − u).
Euler–Maruyama approximates the same SDE: its error in the amount falls like 1/n.
"""

import pytest
import torch
from unit_helpers import Counting, field, grid

from sampling import (
    Gaussian,
    GaussianMixture,
    Guided,
    coeffs,
    ddpm_mean,
    em_mean,
    em_std,
    eps_hat,
    forward_trajectory,
    gaussian_noise,
    paired,
    record_cycle_sde,
    sample,
    sync_sde,
)

V = 0.25


def data(mean: torch.Tensor, var: float, n: int, seed: int = 0) -> torch.Tensor:
    """n draws of x0 ~ N(mean, var·I), float64."""
    z = torch.randn((n, *mean.shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return mean + var**0.5 * z


def amount(sigmas: torch.Tensor, path: str, var_tgt: float) -> float:
    """s0² / (a0²·v_tgt + s0²): the share of μ_tgt − μ_src that the edit moves (module doc)."""
    a0, s0 = coeffs(sigmas[0], path)
    return float(s0**2 / (a0**2 * var_tgt + s0**2))


def gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("discretization", ["euler_maruyama", "ddpm"])
@pytest.mark.parametrize("end", ["zero", "min"])
def test_identical_conditioning_returns_the_input_exactly(path, discretization, end):
    mix = Guided(
        cond=GaussianMixture(torch.tensor([0.3, 0.7]), torch.stack([field(4), field(5)]), torch.tensor([0.2, 0.4]),
                             path),
        uncond=Gaussian(field(3), V, path),
    )
    x0 = data(field(1), V, 3)
    for scale in (1.0, 3.0):
        y = sync_sde(paired(mix, mix), x0, grid(path, 7, end), path, gen(), discretization=discretization,
                     source_scales=scale, target_scales=scale)
        assert float((y - x0).abs().max()) <= 1e-10


def _guided(mean_c: torch.Tensor, mean_u: torch.Tensor, path: str) -> Guided:
    return Guided(cond=Gaussian(mean_c, V, path), uncond=Gaussian(mean_u, V, path))


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_gaussian_edit_moves_every_sample_by_the_analytic_amount(path):
    """Equal variances: y_n − x0 = amount·(μ_tgt − μ_src) for every sample (DDPM exactly, EM to O(1/n)).

    Under guidance the means are the guided ones, μ = u + w·(c − u), at each path's own scale.
    """
    mu_src, mu_tgt, mu_u = field(1) * 0.5, field(2) * 0.5, field(3) * 0.5
    w_src, w_tgt = 1.5, 3.0
    den = paired(_guided(mu_src, mu_u, path), _guided(mu_tgt, mu_u, path))
    shift = (mu_u + w_tgt * (mu_tgt - mu_u)) - (mu_u + w_src * (mu_src - mu_u))
    x0 = data(mu_src, V, 16)
    kw = {"source_scales": w_src, "target_scales": w_tgt}
    for n in (1, 3, 12):
        sig = grid(path, n, t0=0.4)
        y = sync_sde(den, x0, sig, path, gen(n), discretization="ddpm", **kw)
        assert float((y - x0 - amount(sig, path, V) * shift).abs().max()) <= 1e-10
    errs = []
    for n in (16, 64):
        sig = grid(path, n, t0=0.4)
        y = sync_sde(den, x0, sig, path, gen(n), discretization="euler_maruyama", **kw)
        d = y - x0
        assert float((d - d[0]).abs().max()) <= 1e-10  # the same displacement for every noise realisation
        errs.append(float((d[0] - amount(sig, path, V) * shift).abs().max()))
    assert errs[1] < errs[0] / 3 and errs[1] < 0.01 * float(shift.abs().max()), errs


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_gaussian_edit_moves_by_the_analytic_amount_in_expectation(path):
    """Target variance ≠ source variance: the displacement now depends on the noise; its mean is the amount.

    Moment test, 2000 source draws, 64 pixels: every pixel's mean displacement within 4.5 standard errors
    of s0²/(a0²·v_tgt + s0²)·Δμ (seeded; a false alarm on a fresh seed has probability about 5e-4). The
    edit keeps the source's noise: y_n correlates with x0 at ≥ 0.97 per pixel, where a target sample
    with its own noise from the same x_t0 (DDPM, independent noise) does not.
    """
    v_tgt, n_draws = 0.5, 2000
    mu_src, mu_tgt = field(1, (4, 4, 4)) * 0.5, field(2, (4, 4, 4)) * 0.5
    target = Gaussian(mu_tgt, v_tgt, path)
    x0 = data(mu_src, V, n_draws)
    sig = grid(path, 6, t0=0.3)
    y = sync_sde(paired(Gaussian(mu_src, V, path), target), x0, sig, path, gen(), discretization="ddpm")
    d = y - x0
    err = d.mean(0) - amount(sig, path, v_tgt) * (mu_tgt - mu_src)
    assert float((err / (d.std(0) / n_draws**0.5)).abs().max()) <= 4.5

    def corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a - a.mean(0), b - b.mean(0)
        return (a * b).sum(0) / (a.square().sum(0) * b.square().sum(0)).sqrt()

    x_t0 = forward_trajectory(x0, sig, path, gen()).latents[0]  # the same x_t0 the coupled run started from
    own = sample(target, x_t0, sig, "ddpm", 1.0, path=path, noise_sampler=gaussian_noise(x0, gen(7)))
    assert float(corr(y, x0).min()) >= 0.97
    assert float(corr(y, x0).min()) > float(corr(own, x0).max()) + 0.25


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_ddpm_is_cycle_sde_record_then_replay(path):
    """sync-SDE with the ddpm step = Cycle-SDE record (source prompt, scale) + replay (target prompt, scale)."""
    src, tgt = _guided(field(1), field(3), path), _guided(field(2), field(3), path)
    x0, sig = data(field(1), V, 3), grid(path, 5)
    y = sync_sde(paired(src, tgt), x0, sig, path, gen(), discretization="ddpm", source_scales=2.0, target_scales=4.0)
    rec = record_cycle_sde(src, forward_trajectory(x0, sig, path, gen()), 2.0)
    replay = sample(tgt, rec.latents[0], rec, "cycle_sde", 4.0)
    assert float((y - replay).abs().max()) <= 1e-12


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_euler_maruyama_step_is_the_authors_update(path):
    """Flow: x + Δσ·(2·(x̂0 − ε̂) − x/(1 − σ)), noise std sqrt(2σ·Δσ/(1 − σ)) (their pipeline_syncsde.py);
    VE: x − 2·Δσ·ε̂, std sqrt(2σ·Δσ) (the reverse SDE of x = x0 + σε)."""
    x, x0_hat = data(field(1), V, 2), data(field(2), V, 2, seed=5)
    for sig_t, sig_s in ((0.9, 0.7), (0.3, 0.0)) if path == "flow" else ((5.0, 2.0), (0.4, 0.0)):
        st, ss = torch.tensor(sig_t, dtype=torch.float64), torch.tensor(sig_s, dtype=torch.float64)
        (a_t, s_t), (a_s, s_s) = coeffs(st, path), coeffs(ss, path)
        eps, dt = eps_hat(x, x0_hat, a_t, s_t), st - ss
        if path == "flow":
            want, std = x + dt * (2 * (x0_hat - eps) - x / (1 - st)), (2 * st * dt / (1 - st)).sqrt()
        else:
            want, std = x - 2 * dt * eps, (2 * st * dt).sqrt()
        assert float((em_mean(x, x0_hat, a_t, s_t, a_s, s_s) - want).abs().max()) <= 1e-12
        assert float((em_std(a_t, s_t, a_s, s_s) - std).abs()) <= 1e-12
    # The EM and DDPM steps agree to first order in Δσ: they discretize the same SDE.
    tiny = torch.tensor([0.5, 0.5 - 1e-4], dtype=torch.float64)
    (a_t, s_t), (a_s, s_s) = coeffs(tiny[0], path), coeffs(tiny[1], path)
    step = (ddpm_mean(x, x0_hat, a_t, s_t, a_s, s_s) - x).abs().max()
    assert float((em_mean(x, x0_hat, a_t, s_t, a_s, s_s) - ddpm_mean(x, x0_hat, a_t, s_t, a_s, s_s)).abs().max()) \
        <= 1e-3 * float(step)


@pytest.mark.parametrize("discretization", ["euler_maruyama", "ddpm"])
@pytest.mark.parametrize("n", [1, 5])
def test_one_batched_call_per_step_source_rows_first(discretization, n):
    den = Counting(paired(_guided(field(1), field(3), "flow"), _guided(field(2), field(3), "flow")))
    x0, sig = data(field(1), V, 3), grid("flow", n)
    sync_sde(den, x0, sig, "flow", gen(), discretization=discretization, source_scales=1.5,
             target_scales=torch.linspace(4, 1, n))
    assert den.count == n
    for i, (rows, sigma, scale) in enumerate(den.calls):
        assert rows == 6 and torch.equal(sigma, sig[i].expand(6))
        assert scale[:3].eq(1.5).all() and scale[3:].eq(torch.linspace(4, 1, n, dtype=torch.float64)[i]).all()


def test_dtype_callback_and_inputs():
    den = paired(Gaussian(field(1), V, "ve"), Gaussian(field(2), V, "ve"))
    x0 = data(field(1), V, 2).float()
    before, sig = x0.clone(), grid("ve", 4)
    seen = []
    y = sync_sde(den, x0, sig, "ve", gen(), callback=lambda i, y, y0: seen.append((i, y.dtype)))
    assert y.dtype == torch.float32 and torch.equal(x0, before) and torch.equal(sig, grid("ve", 4))
    assert seen == [(i, torch.float32) for i in range(4)]
    y64 = sync_sde(den, x0, sig, "ve", gen(), dtype=torch.float64, callback=lambda i, y, y0: seen.append(y.dtype))
    assert seen[-1] == torch.float64 and y64.dtype == torch.float32
    # A noise sampler instead of a generator drives the source path the same way.
    same = sync_sde(den, x0, sig, "ve", gaussian_noise(x0, gen()))
    assert torch.equal(same, y)


def test_errors_say_what_to_change():
    den = paired(Gaussian(field(1), V, "flow"), Gaussian(field(2), V, "flow"))
    x0 = data(field(1), V, 2)
    from_noise = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="cannot start at σ = 1 .* ddpm"):
        sync_sde(den, x0, from_noise, "flow", gen())
    y = sync_sde(den, x0, from_noise, "flow", gen(), discretization="ddpm")
    assert torch.isfinite(y).all()  # the DDPM step is defined at σ = 1
    with pytest.raises(ValueError, match="unknown discretization 'heun'"):
        sync_sde(den, x0, grid("flow", 2), "flow", gen(), discretization="heun")
    with pytest.raises(ValueError, match="got 3 scales for 2 steps"):
        sync_sde(den, x0, grid("flow", 2), "flow", gen(), target_scales=torch.ones(3))
    with pytest.raises(ValueError, match="strictly descending"):
        sync_sde(den, x0, grid("flow", 2).flip(0), "flow", gen())
