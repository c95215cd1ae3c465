"""Algorithm 1 (sampling.drag.sde_drag): the paste noise's scale, independent random streams, the
sub-step cycle against its parts, the fresh-noise option, exactness where nothing was edited."""

import pytest
import torch
from unit_helpers import Counting, grid, models

from sampling import Gaussian, em_mean, forward_trajectory, gaussian_noise, guidance_scales, sample, streams
from sampling.drag import DragPair, copy_paste, drag_calls, drag_plan, drag_steps, edited_region, sde_drag
from sampling.samplers import ddim_invert, sample_coupled
from sampling.schedule import coeffs, marginal_std

PAIR = DragPair((2, 2), (5, 3))


@pytest.mark.parametrize("path, sigma0", [("ve", 2.5), ("flow", 0.6), ("ve", 0.4)])
def test_renoised_square_has_the_latents_own_marginal_variance(path, sigma0):
    """Unit-variance data noised up to σ_0: the re-noised source square has variance a² + s² there, as the
    rest of x_t0 does (the authors' Eq. 12 on unit-variance VP latents), for every β."""
    n = 4000  # samples (batch), each a 1-channel 8×8 latent
    x0 = torch.randn((n, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigmas = torch.tensor([sigma0, 0.0], dtype=torch.float64)
    x_t0 = forward_trajectory(x0, sigmas, path, streams.generator(0, "forward")).latents[0]
    a, s = coeffs(torch.tensor(sigma0, dtype=torch.float64), path)
    want = float(a**2 + s**2)
    assert float(marginal_std(sigma0, path)) ** 2 == pytest.approx(want)
    assert float(x_t0.var()) == pytest.approx(want, rel=0.03)  # the forward marginal itself
    for beta in (0.0, 0.3, 0.7):
        out = copy_paste(x_t0, [PAIR], r=1, alpha=1.1, beta=beta, generator=streams.generator(0, "paste"),
                         std=marginal_std(sigma0, path))
        square = out[..., 1:3, 1:3]
        assert float(square.var()) == pytest.approx(want, rel=0.03)
        assert abs(float(square.mean())) < 0.05 * want**0.5
    if want > 1.5:  # the old unit noise: visibly too little variance where the latent's is large
        bad = copy_paste(x_t0, [PAIR], r=1, alpha=1.1, beta=0.3, generator=streams.generator(0, "paste"), std=1.0)
        assert float(bad[..., 1:3, 1:3].var()) < 0.8 * want


def test_copy_paste_refuses_a_bad_noise_std():
    x = torch.zeros(1, 1, 8, 8)
    for std in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="std must be a number ≥ 0"):
            copy_paste(x, [PAIR], 1, 1.1, 0.3, streams.generator(0, "paste"), std)


def test_streams_are_independent_and_reproducible():
    seeds = {streams.stream_seed(7, name, k) for name in streams.STREAMS for k in range(4)}
    assert len(seeds) == len(streams.STREAMS) * 4  # every stream and draw has its own seed
    assert streams.stream_seed(7, "paste", 2) == streams.stream_seed(7, "paste", 2)
    assert streams.stream_seed(7, "paste") != streams.stream_seed(8, "paste")
    draws = {name: torch.randn(200_000, generator=streams.generator(7, name)) for name in streams.STREAMS}
    names = list(draws)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            corr = float(torch.corrcoef(torch.stack([draws[a], draws[b]]))[0, 1])
            assert abs(corr) < 0.01, (a, b, corr)  # 4.5 standard errors at n = 200k
    # the same seed as a plain generator (what the nodes used before) is not any stream
    plain = torch.randn(200_000, generator=torch.Generator().manual_seed(7))
    assert all(not torch.equal(plain[:100], d[:100]) for d in draws.values())
    with pytest.raises(ValueError, match="unknown random stream"):
        streams.stream_seed(0, "nope")
    with pytest.raises(ValueError, match="seed must be"):
        streams.stream_seed(-1, "paste")


def setting(path="ve", n=4):
    den = Counting(models(path)["guided"])
    x0 = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return den, x0, grid(path, n), guidance_scales(n, 3.0, "linear")


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_one_sde_substep_is_forward_paste_and_coupled_cycle_sde(path):
    den, x0, sigmas, w = setting(path)
    plan = [[PAIR]]
    out = sde_drag(den, x0, plan, sigmas, path, w, 5, r=2, alpha=1.1, beta=0.3)
    forward = forward_trajectory(x0, sigmas, path, streams.generator(5, "forward", 0))
    edited = copy_paste(forward.latents[0], [PAIR], 2, 1.1, 0.3, streams.generator(5, "paste", 0),
                        marginal_std(sigmas[0], path))
    assert torch.equal(out, sample_coupled(den, edited, forward, w))


def test_one_ode_substep_is_inversion_paste_and_ddim():
    den, x0, sigmas, w = setting()
    out = sde_drag(den, x0, [[PAIR]], sigmas, "ve", w, 5, r=2, alpha=1.1, beta=0.3, method="ode")
    inv = ddim_invert(den, x0, sigmas, "ve", w)
    edited = copy_paste(inv.latents[0], [PAIR], 2, 1.1, 0.3, streams.generator(5, "paste", 0),
                        marginal_std(sigmas[0], "ve"))
    assert torch.equal(out, sample(den, edited, inv, "ddim", w))


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_calls_and_progress_follow_the_plan(method):
    den, x0, sigmas, w = setting(n=5)
    plan = drag_plan([DragPair((1, 1), (7, 1)), DragPair((1, 5), (3, 6))], 2.0)
    assert len(plan) == 3 and plan[-1][0].target == (7, 1)
    seen = []
    sde_drag(den, x0, plan, sigmas, "ve", guidance_scales(5, 3.0, "linear"), 0, r=1, alpha=1.1, beta=0.3,
             method=method, callback=lambda j, x, x0_hat: seen.append(j))
    total = drag_steps(plan, 5, method)
    assert total == (15 if method == "sde" else 30) and seen == list(range(total))
    # fused record + sample: one call a step; ODE: 2n, less the inversion step from σ = 0 (no call)
    assert den.count == drag_calls(plan, sigmas, method) == (15 if method == "sde" else 27)
    if method == "sde":
        assert all(b == 2 for b, _, _ in den.calls)  # rows [x_i ; y_i]


def test_same_seed_same_drag_other_seed_other_drag():
    den, x0, sigmas, w = setting()
    plan = drag_plan([DragPair((1, 1), (6, 2))], 2.0)
    kw = {"r": 2, "alpha": 1.1, "beta": 0.3, "square_noise": "fresh"}
    a = sde_drag(den, x0, plan, sigmas, "ve", w, 11, **kw)
    assert torch.equal(a, sde_drag(den, x0, plan, sigmas, "ve", w, 11, **kw))
    assert not torch.allclose(a, sde_drag(den, x0, plan, sigmas, "ve", w, 12, **kw))


def test_residual_hook_fresh_everywhere_is_plain_ddpm_and_identity_is_cycle_sde():
    """The coupled sampler's residual edit: fresh noise τ·w everywhere = DDPM with that noise from the same
    start; the identity edit = plain Cycle-SDE."""
    den, x0, sigmas, w = setting()
    forward = forward_trajectory(x0, sigmas, "ve", torch.Generator().manual_seed(1))
    y = forward.latents[0] + 0.1
    noise = gaussian_noise(y, torch.Generator().manual_seed(2))
    inside = sample_coupled(den, y, forward, w, residual=lambda i, r, tau: tau * noise(tau, tau))
    ddpm = sample(den, y, forward, "ddpm", w, noise_sampler=gaussian_noise(y, torch.Generator().manual_seed(2)))
    assert torch.allclose(inside, ddpm, atol=1e-12)
    plain = sample_coupled(den, y, forward, w)
    assert torch.equal(plain, sample_coupled(den, y, forward, w, residual=lambda i, r, tau: r))
    with pytest.raises(ValueError, match="DDPM steps only"):
        sample_coupled(den, y, forward, w, residual=lambda i, r, tau: r, mean=em_mean)


@pytest.mark.parametrize("square_noise", ["recorded", "fresh", "fresh_vacated", "moved"])
@pytest.mark.parametrize("path", ["ve", "flow"])
def test_outside_the_squares_a_pointwise_model_reconstructs_exactly(path, square_noise):
    """With a denoiser that acts pixel by pixel (an isotropic Gaussian), only the squares S ∪ T of the
    sub-steps can change: everywhere else each cycle retraces the recorded path to the input."""
    n = 4
    den = Gaussian(torch.zeros(4, 8, 8, dtype=torch.float64), 0.3, path)
    x0 = torch.randn((2, 4, 8, 8), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    plan = drag_plan([DragPair((1, 1), (5, 2))], 2.0)
    out = sde_drag(den, x0, plan, grid(path, n), path, 1.0, 9, r=1, alpha=1.1, beta=0.3, square_noise=square_noise)
    touched = torch.zeros(1, 1, 8, 8)
    for pairs in plan:
        touched = torch.maximum(touched, edited_region(pairs, 1, 8, 8))
    keep = (touched == 0).expand_as(x0)
    assert torch.allclose(out[keep], x0[keep], atol=1e-10)
    assert not torch.allclose(out[~keep], x0[~keep], atol=1e-3)


def test_fresh_noise_forgets_the_source_detail_in_the_squares():
    """The ghost mechanism on a pointwise model: the recorded residual replays the input's unpredicted
    detail in the vacated square; fresh noise does not. Averaged over seeds, the vacated square's mean
    follows the input's detail under `recorded` and stays at the model's prediction under `fresh`."""
    den = Gaussian(torch.zeros(1, 8, 8, dtype=torch.float64), 0.5, "ve")
    x0 = torch.zeros((1, 1, 8, 8), dtype=torch.float64)
    x0[..., 1:3, 1:3] = 2.0  # a bright object in the source square, far from the model's mean 0
    sigmas = grid("ve", 4)
    plan = [[DragPair((2, 2), (6, 6))]]  # one jump: S = rows/cols 1..2, T = 5..6, disjoint
    means = {}
    for square_noise in ("recorded", "fresh", "fresh_vacated", "moved"):
        outs = [sde_drag(den, x0, plan, sigmas, "ve", 1.0, s, r=1, alpha=1.0, beta=0.0, square_noise=square_noise)
                for s in range(200)]
        means[square_noise] = float(torch.stack(outs)[..., 1:3, 1:3].mean())
    assert means["recorded"] > 0.5  # the old object comes back where it was: a ghost
    for variant in ("fresh", "fresh_vacated", "moved"):  # the vacated square follows the model (mean 0 here)
        assert abs(means[variant]) < 0.2, (variant, means)


def test_sde_drag_refuses_unknown_options():
    den, x0, sigmas, w = setting()
    for kw, msg in (({"method": "sdf"}, "method"), ({"square_noise": "new"}, "square_noise")):
        with pytest.raises(ValueError, match=msg):
            sde_drag(den, x0, [[PAIR]], sigmas, "ve", w, 0, r=1, alpha=1.1, beta=0.3, **kw)
    with pytest.raises(ValueError, match="plan is empty"):
        sde_drag(den, x0, [], sigmas, "ve", w, 0, r=1, alpha=1.1, beta=0.3)
    with pytest.raises(ValueError, match="multi_point"):
        drag_plan([PAIR], 2.0, "both")


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_moved_residual_translates_the_square_exactly_on_a_pointwise_model(path):
    """`moved` drags the recorded residual with the latent: with α = 1 and a pixel-wise model, the target
    square retraces the source square's recorded path, so the output's T is the input's S to float
    rounding. The recorded residual (the paper) replays T's own detail instead, and does not."""
    den = Gaussian(torch.zeros(2, 8, 8, dtype=torch.float64), 0.4, path)
    x0 = torch.randn((1, 2, 8, 8), generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    pair = DragPair((2, 2), (4, 5))  # r = 2: S rows/cols 0..3, T rows 3..6, cols 2..5 (they overlap)
    kw = {"r": 2, "alpha": 1.0, "beta": 0.3}
    moved = sde_drag(den, x0, [[pair]], grid(path, 5), path, 1.0, 1, square_noise="moved", **kw)
    assert torch.allclose(moved[..., 3:7, 2:6], x0[..., 0:4, 0:4], atol=1e-10)
    paper = sde_drag(den, x0, [[pair]], grid(path, 5), path, 1.0, 1, square_noise="recorded", **kw)
    assert not torch.allclose(paper[..., 3:7, 2:6], x0[..., 0:4, 0:4], atol=1e-2)
