"""The paper's toy experiment (Fig. 5; Theorems 3.1–3.3) on a 1-D Gaussian mixture, exactly scored.

Stage 2 starts from a prior p̃ at t0 that is not the true marginal p_t0 (the paper's N(2, 2²) and
U[−2, 2]). Along the way we measure KL(p̃_t ‖ p_t) between the sampler's marginal and the true one:
the ODE (DDIM) transports p̃ and p by the same map, so it stays about constant (Thm 3.2); the SDE
(DDPM) and Cycle-SDE contract it (Thms 3.1, 3.3). Cycle-SDE records its residuals on forward
trajectories of real data samples, then replays them from the mismatched prior.

The experiment (data, samplers, the histogram KL estimator and its bias) is in sampling/analytic.py,
shared with the benchmark (scripts/bench/scale.py), which plots the same curves (docs/benchmarks.md).
"""

import pytest

from sampling.analytic import kl_along  # the experiment itself, shared with the benchmark

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py



@pytest.mark.parametrize("prior", ["normal", "uniform"])
@pytest.mark.parametrize("path", ["ve", "flow"])
def test_sde_recovers_the_data_distribution_and_the_ode_does_not(path, prior):
    ode = kl_along("ddim", path, prior)
    start = ode[0]
    assert start > 0.3  # the prior is far from p_t0
    assert all(0.8 * start <= k <= 1.1 * start for k in ode)  # Thm 3.2: about constant along the ODE
    for method in ("ddpm", "cycle_sde"):
        kls = kl_along(method, path, prior)
        assert kls[0] == start
        assert all(b <= a + 0.01 for a, b in zip(kls, kls[1:], strict=False))  # Thms 3.1/3.3: it falls
        assert kls[-1] < 0.35 * start and kls[-1] < 0.35 * ode[-1]
