"""SDE-Drag on real ComfyUI models: the primitive, the composite node, their equality, and the call count."""

import json

import pytest
import torch
from stage_helpers import CallCounter, call, max_err, record, resample

from sampling.schedule import marginal_std

PTS = json.dumps([{"source": [12, 12], "target": [28, 20]}])  # latent (1, 1) -> (3, 2): 2.2 px, one sub-step


def drag(host, model, pos, neg, latent, points=PTS, **kw):
    args = {"t0": 0.6, "steps": 4, "step_size": 2.0, "r": 1, "alpha": 1.1, "beta": 0.3, "cfg": 3.0, "seed": 7,
            "method": "sde", "multi_point": "simultaneous", "scheduler": "simple", "precision": "float32"} | kw
    return call(host, "SDEEditSDEDrag", model=model, positive=pos, negative=neg, latent=latent, points=points,
                **args)[0]


def copy_paste(host, model, latent, trajectory, points=PTS, **kw):
    args = {"r": 1, "alpha": 1.1, "beta": 0.3, "seed": 7} | kw
    return call(host, "SDEEditDragCopyPaste", model=model, latent=latent, trajectory=trajectory, points=points,
                **args)[0]


def noised(host, model, latent, t0=0.6):
    """(x_t0, trajectory) of Noise-Adding Inversion: what Drag Copy-Paste is wired after."""
    return call(host, "SDEEditNoiseAddingInversion", model=model, latent=latent, t0=t0, steps=4, seed=3,
                scheduler="simple", independent_noise=False, precision="float32")


def test_copy_paste_happens_in_model_space(host, family_models):
    model, _, _, latent = family_models["flow16"]  # SD3's latent format shifts and scales
    _, traj = noised(host, model, latent)
    out = copy_paste(host, model, latent, traj, alpha=1.0, beta=1.0)
    # alpha = beta = 1 copies the 2x2 square at latent (1, 1) to (3, 2): exact in either space
    assert torch.allclose(out["samples"][..., 1:3, 2:4], latent["samples"][..., 0:2, 0:2], atol=1e-6)
    out = copy_paste(host, model, latent, traj, alpha=1.1, beta=1.0)
    lf = model.model.latent_format
    want = lf.process_out(1.1 * lf.process_in(latent["samples"][..., 0:2, 0:2]))
    assert torch.allclose(out["samples"][..., 1:3, 2:4], want, atol=1e-5)
    assert not torch.allclose(out["samples"][..., 1:3, 2:4], 1.1 * latent["samples"][..., 0:2, 0:2], atol=1e-3)


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_paste_noise_has_the_latents_own_scale_at_t0(host, family_models, fam):
    """β = 0: the source square is pure fresh noise, whose std must be the latent's marginal std at σ(t0) in
    the sampler's coordinates (sqrt(1 + σ²) on EPS, sqrt((1 − σ)² + σ²) on flow), not 1."""
    model, _, _, latent = family_models[fam]
    x_t0, traj = noised(host, model, latent)
    big = json.dumps([{"source": [24, 24], "target": [56, 56]}])  # latent (3, 3) -> (7, 7), r = 3: disjoint
    out = copy_paste(host, model, x_t0, traj, points=big, r=3, beta=0.0)
    lf = model.model.latent_format
    values = lf.process_in(out["samples"])[..., 0:6, 0:6]
    want = float(marginal_std(traj.sigmas[0], traj.path))
    assert float(values.std()) == pytest.approx(want, rel=0.15), (float(values.std()), want)
    if fam == "eps":
        assert want > 2.0  # σ(0.6) ≈ 2–3 on SD1.5: unit noise would be far off


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_composite_with_one_substep_equals_the_primitive_chain(host, family_models, fam):
    model, pos, neg, latent = family_models[fam]
    mask = torch.zeros(1, 64, 64)
    mask[:, 0:40, 0:40] = 1.0
    kw = {"precision": "float64"}
    x_t0, traj = record(host, model, pos, neg, latent, cfg=3.0, schedule="linear", steps=4, seed=7, batch_size=1, **kw)
    pasted = copy_paste(host, model, x_t0, traj)
    chain = resample(host, model, pos, neg, pasted, traj, "cycle_sde", cfg=3.0, schedule="linear", mask=mask)
    one = call(host, "SDEEditSDEDrag", model=model, positive=pos, negative=neg, latent=latent, points=PTS, t0=0.6,
               steps=4, step_size=2.0, r=1, alpha=1.1, beta=0.3, cfg=3.0, seed=7, method="sde",
               multi_point="simultaneous", scheduler="simple", precision="float64", grid="scheduler",
               square_noise="recorded", mask=mask)[0]  # the paper's noise: the chain replays the record as is
    assert max_err(one, chain) <= 1e-4 * (1 + float(chain["samples"].abs().max())), max_err(one, chain)
    assert max_err(one, latent) > 1e-2  # and it did drag something


@pytest.mark.parametrize("method, calls_per_substep", [("sde", 4), ("ode", 2 * 4 - 1)])
def test_model_calls_are_m_times_steps(host, family_models, method, calls_per_substep):
    model, pos, neg, latent = family_models["flow16"]
    b = latent["samples"].shape[0]
    counter = CallCounter(model)
    far = json.dumps([{"source": [4, 4], "target": [60, 4]}])  # 7 latent px at 2 per sub-step: m = 4
    drag(host, counter.model, pos, neg, latent, points=far, method=method)
    assert len(counter.calls) == 4 * calls_per_substep
    if method == "sde":
        # one batched call a step: the forward path's and the dragged latent's rows, both prompts where scale > 1
        assert counter.calls == [4 * b, 4 * b, 4 * b, 2 * b] * 4


def test_zero_latent_displacement_with_beta_one_reconstructs_the_input(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    same_square = json.dumps([{"source": [16, 16], "target": [20, 21]}])  # both floor to latent (2, 2)
    out = drag(host, model, pos, neg, latent, points=same_square, alpha=1.0, beta=1.0)
    assert max_err(out, latent) <= 1e-3


def test_sequential_runs_each_drag_in_its_own_substeps(host, family_models):
    model, pos, neg, latent = family_models["flow16"]
    two = json.dumps([{"source": [4, 4], "target": [28, 4]}, {"source": [40, 40], "target": [40, 56]}])
    counter = CallCounter(model)
    drag(host, counter.model, pos, neg, latent, points=two, multi_point="sequential", steps=2)
    # drag 0: 3 latent px -> m = 2 (a step of 1.5 is nearer 2 than one of 3); drag 1: 2 px -> m = 1
    assert len(counter.calls) == (2 + 1) * 2
    counter.calls.clear()
    drag(host, counter.model, pos, neg, latent, points=two, multi_point="simultaneous", steps=2)
    assert len(counter.calls) == 2 * 2  # together: the longer drag's m = 2


def test_drag_refuses_bad_points_and_masks(host, family_models):
    model, pos, neg, latent = family_models["eps"]
    for points, message in [("{", "not valid JSON"), ('[{"x": 1, "y": 1}]', "odd count"),
                            ('[{"source": [1, 1], "target": [64, 1]}]', "outside the 64×64 image")]:
        with pytest.raises(ValueError) as e:
            drag(host, model, pos, neg, latent, points=points)
        assert message in str(e.value)
    with pytest.raises(ValueError, match="another aspect ratio"):
        drag(host, model, pos, neg, latent, mask=torch.ones(1, 32, 64))
    with pytest.raises(ValueError, match="t0 must be in"):
        drag(host, model, pos, neg, latent, t0=0.0)
