"""sync-SDE on real ComfyUI models of every family (tiny checkpoints, 64 px, batch 2): the node, its
SAMPLER form, one batched forward pass per step, progress, Cancel and the errors users meet."""

from __future__ import annotations

import pytest
import torch
from stage_helpers import FAMILIES, call, max_err
from test_stages import CallCounter


def sync(host, model, source, target, latent, *, negative=None, source_cfg=1.0, target_cfg=1.0, steps=4, t0=0.6,
         seed=3, discretization="euler_maruyama", precision="float32", scheduler="simple", **options):
    kw = ({} if negative is None else {"negative": negative}) | options
    return call(host, "SDEEditSyncSDE", model=model, source=source, source_cfg=source_cfg, target=target,
                target_cfg=target_cfg, latent=latent, steps=steps, t0=t0, scheduler=scheduler, seed=seed,
                discretization=discretization, precision=precision, **kw)[0]


def sampler_form(host, model, source, target, latent, *, negative=None, source_cfg=1.0, target_cfg=1.0, full=7,
                 start=3, seed=3, discretization="euler_maruyama", precision="float32", resample=False):
    """SamplerCustomAdvanced with the SAMPLER form, the levels from BasicScheduler(full) → SplitSigmas(start)."""
    sampler = call(host, "SDEEditSyncSDESampler", source=source, source_cfg=source_cfg, seed=seed,
                   discretization=discretization, precision=precision, resample=resample)[0]
    sigmas = call(host, "BasicScheduler", model=model, scheduler="simple", steps=full, denoise=1.0)[0]
    low = call(host, "SplitSigmas", sigmas=sigmas, step=start)[1]
    if negative is None:
        guider = call(host, "BasicGuider", model=model, conditioning=target)[0]
    else:
        guider = call(host, "CFGGuider", model=model, positive=target, negative=negative, cfg=target_cfg)[0]
    return call(host, "SamplerCustomAdvanced", noise=call(host, "DisableNoise")[0], guider=guider, sampler=sampler,
                sigmas=low, latent_image=latent)[0]


@pytest.fixture(scope="module")
def target_prompts(host):
    """{checkpoint: a second prompt}, encoded once."""
    out = {}
    with torch.inference_mode():
        for name in ("sd15", "sd3"):
            clip = host.checkpoint(name)[1]
            out[name] = host.node("CLIPTextEncode")().encode(clip, "a blue square on white")[0]
    return out


def _target(fam, target_prompts):
    return target_prompts["sd3" if fam == "flow16" else "sd15"]


@pytest.mark.parametrize("fam", FAMILIES)
@pytest.mark.parametrize("discretization", ["euler_maruyama", "ddpm"])
def test_identical_prompts_return_the_input(host, family_models, fam, discretization):
    model, pos, neg, latent = family_models[fam]
    out = sync(host, model, pos, pos, latent, discretization=discretization)
    assert max_err(out, latent) <= 1e-3, max_err(out, latent)
    assert out["samples"].dtype == torch.float32 and out["samples"].shape == latent["samples"].shape
    # float64 state, and the same CFG on both paths: exact to the float32 rounding of the LATENT output.
    out = sync(host, model, pos, pos, latent, negative=neg, source_cfg=3.0, target_cfg=3.0,
               discretization=discretization, precision="float64")
    assert max_err(out, latent) <= 1e-6, max_err(out, latent)


@pytest.mark.parametrize("fam", ["eps", "flow16"])
def test_another_prompt_edits(host, family_models, target_prompts, fam):
    model, pos, neg, latent = family_models[fam]
    out = sync(host, model, pos, _target(fam, target_prompts), latent)
    assert torch.isfinite(out["samples"]).all()
    assert float((out["samples"] - latent["samples"]).abs().mean()) > 1e-3


@pytest.mark.parametrize("fam", ["eps", "flow16"])
@pytest.mark.parametrize(("source_cfg", "target_cfg"), [(1.0, 1.0), (1.0, 2.5), (2.0, 1.0), (2.0, 2.5)])
def test_one_batched_forward_pass_per_step(host, family_models, target_prompts, fam, source_cfg, target_cfg):
    """Source and target rows in one pass: 2B rows, plus B negative rows for each side under CFG (the negative in
    the same batch, only for the rows whose scale is not 1)."""
    model, pos, neg, latent = family_models[fam]
    b, steps = latent["samples"].shape[0], 4
    counter = CallCounter(model)
    sync(host, counter.model, pos, _target(fam, target_prompts), latent, negative=neg, source_cfg=source_cfg,
         target_cfg=target_cfg, steps=steps)
    assert counter.calls == [(2 + (source_cfg != 1) + (target_cfg != 1)) * b] * steps


@pytest.mark.parametrize(("source_cfg", "target_cfg"), [(1.0, 2.5), (2.0, 1.0)])
def test_one_sided_cfg_equals_cfg_on_every_row(host, family_models, target_prompts, source_cfg, target_cfg):
    """The 3B-row pass gives what the 4B-row pass gives (the negative on every row, used where the scale is not 1):
    here that pass is the two prompts evaluated apart, each with its own scale, through the SAMPLER form's
    fallback (an unmergeable target)."""
    model, pos, neg, latent = family_models["eps"]
    target = _target("eps", target_prompts)
    kw = {"negative": neg, "source_cfg": source_cfg, "target_cfg": target_cfg, "steps": 3}
    one_pass = sync(host, model, pos, target, latent, **kw)
    strong = host.node("ConditioningSetAreaStrength")().append(target, 1.0)[0]  # changes nothing, is not merged
    counter = CallCounter(model)
    apart = sync(host, counter.model, pos, strong, latent, **kw)
    b = latent["samples"].shape[0]
    assert counter.calls == [2 * b, 2 * b] * 3  # per prompt: its B rows and the negative's B
    assert max_err(one_pass, apart) <= 1e-4, max_err(one_pass, apart)


def test_unmergeable_conditioning_falls_back_to_one_pass_per_prompt(host, family_models, target_prompts):
    """A conditioning with a whole-entry setting (here: strength 1, which changes nothing) is not merged by row."""
    model, pos, neg, latent = family_models["eps"]
    target = _target("eps", target_prompts)
    b, steps = latent["samples"].shape[0], 3
    strong = host.node("ConditioningSetAreaStrength")().append(target, 1.0)[0]
    counter = CallCounter(model)
    fallback = sync(host, counter.model, pos, strong, latent, steps=steps)
    assert counter.calls == [b, b] * steps
    merged = sync(host, model, pos, target, latent, steps=steps)
    assert max_err(fallback, merged) <= 1e-4, max_err(fallback, merged)


@pytest.mark.parametrize("fam", FAMILIES)
def test_sampler_in_sampler_custom_advanced_equals_the_node(host, family_models, target_prompts, fam):
    """The node's t0/steps grid is BasicScheduler(round(steps / t0)) → SplitSigmas(start): 4 steps, t0 = 4/7."""
    model, pos, neg, latent = family_models[fam]
    target = _target(fam, target_prompts)
    node = sync(host, model, pos, target, latent, steps=4, t0=4 / 7)
    form = sampler_form(host, model, pos, target, latent, full=7, start=3)
    assert max_err(form, node) <= 1e-6, max_err(form, node)


def test_sampler_equals_the_node_under_cfg_with_ddpm(host, family_models, target_prompts):
    model, pos, neg, latent = family_models["flow16"]
    target = _target("flow16", target_prompts)
    kw = {"negative": neg, "source_cfg": 1.5, "target_cfg": 2.5, "discretization": "ddpm", "precision": "float64"}
    node = sync(host, model, pos, target, latent, steps=4, t0=4 / 7, **kw)
    form = sampler_form(host, model, pos, target, latent, full=7, start=3, **kw)
    assert max_err(form, node) <= 1e-6, max_err(form, node)


@pytest.mark.parametrize("resample", [False, True])
def test_a_mask_keeps_the_rest_of_the_input_in_both_forms(host, family_models, target_prompts, resample):
    """Black = keep: the node's mask and, in SamplerCustomAdvanced, the latent's noise mask (Set Latent Noise
    Mask) give the same edit, which changes only the white half; an all-black mask returns the input."""
    model, pos, neg, latent = family_models["flow16"]
    target = _target("flow16", target_prompts)
    half = torch.zeros(1, 64, 64)
    half[..., :32] = 1
    node = sync(host, model, pos, target, latent, steps=4, t0=4 / 7, mask=half, resample=resample)
    masked = host.node("SetLatentNoiseMask")().set_mask(latent, half)[0]
    form = sampler_form(host, model, pos, target, masked, full=7, start=3, resample=resample)
    assert max_err(form, node) <= 1e-6, max_err(form, node)
    d = (node["samples"] - latent["samples"]).abs()
    # kept to the LATENT round trip's float rounding (SD3's shift and scale); latent px 4 is image px 32
    assert float(d[..., 4:].max()) <= 1e-6 and float(d[..., :4].max()) > 1e-2
    kept = sync(host, model, pos, target, latent, steps=4, mask=torch.zeros(1, 64, 64), resample=resample)
    assert max_err(kept, latent) <= 1e-6


def test_resample_is_the_authors_decoupled_source(host, family_models, target_prompts):
    """resample draws the source point afresh every step: another edit than one coupled path, the same model
    calls, still the input back for identical prompts."""
    model, pos, neg, latent = family_models["eps"]
    target = _target("eps", target_prompts)
    counter = CallCounter(model)
    coupled = sync(host, counter.model, pos, target, latent, steps=4)
    calls = list(counter.calls)
    counter.calls.clear()
    decoupled = sync(host, counter.model, pos, target, latent, steps=4, resample=True)
    assert counter.calls == calls == [4] * 4  # one pass of 2B rows a step either way
    assert max_err(decoupled, coupled) > 1e-3
    same = sync(host, model, pos, pos, latent, steps=4, resample=True)
    assert max_err(same, latent) <= 1e-4, max_err(same, latent)


def test_rows_merge_per_row_values_such_as_flux_guidance(host):
    """Flux's guidance embedding is a per-row model cond: source rows keep the source's, target rows the target's."""
    import sys

    import comfy.conds

    adapter = sys.modules[host.node("SDEEditSyncSDE").__module__].rows  # the pack as ComfyUI loaded it

    def entry(guidance, tokens):
        return {"uuid": object(), "model_conds": {
            "guidance": comfy.conds.CONDRegular(torch.tensor([guidance])),
            "c_crossattn": comfy.conds.CONDCrossAttn(torch.full((1, tokens, 8), guidance))}}

    merged = adapter._rows_cond([[entry(1.0, 4)], [entry(3.5, 4)]], rows=2)
    assert merged is not None and len(merged) == 1
    assert merged[0]["model_conds"]["guidance"].cond.tolist() == [1.0, 1.0, 3.5, 3.5]
    ctx = merged[0]["model_conds"]["c_crossattn"].cond
    assert ctx.shape == (4, 4, 8) and ctx[:2].eq(1.0).all() and ctx[2:].eq(3.5).all()
    # A context of another length is repeated to a common one, as ComfyUI batches positive and negative: the
    # 4-token source context (tokens numbered 0–3) is tiled twice, token by token, the 8-token target kept as it is.
    short, long = entry(1.0, 4), entry(3.5, 8)
    tokens = lambda n, first: (first + torch.arange(float(n))).reshape(1, n, 1).repeat(1, 1, 8)  # noqa: E731
    short["model_conds"]["c_crossattn"] = comfy.conds.CONDCrossAttn(tokens(4, 0))
    long["model_conds"]["c_crossattn"] = comfy.conds.CONDCrossAttn(tokens(8, 10))
    ctx = adapter._rows_cond([[short], [long]], rows=2)[0]["model_conds"]["c_crossattn"].cond
    tiled, own = torch.arange(4.0).repeat(2), 10 + torch.arange(8.0)
    assert ctx.shape == (4, 8, 8), ctx.shape
    assert torch.equal(ctx[:2], tiled.reshape(1, 8, 1).expand(2, 8, 8)), ctx[:2, :, 0]
    assert torch.equal(ctx[2:], own.reshape(1, 8, 1).expand(2, 8, 8)), ctx[2:, :, 0]
    # Whole-entry settings and other entry counts cannot be merged row by row.
    assert adapter._rows_cond([[entry(1.0, 4) | {"strength": 0.5}], [entry(3.5, 4)]], rows=2) is None
    assert adapter._rows_cond([[entry(1.0, 4)], [entry(3.5, 4), entry(2.0, 4)]], rows=2) is None


def test_progress_cancel_devices_and_untouched_inputs(host, family_models, target_prompts):
    import comfy.model_management as mm
    import comfy.utils

    model, pos, neg, latent = family_models["flow16"]
    before = latent["samples"].clone()
    seen = []

    def hook(value, total, preview, node_id=None):
        seen.append((value, total))

    old = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        out = sync(host, model, pos, _target("flow16", target_prompts), latent, steps=4)
        assert [v for v, t in seen if t == 4] == [1, 2, 3, 4]
        seen.clear()

        def cancel(value, total, preview, node_id=None):
            seen.append(value)
            if value == 2:
                mm.interrupt_current_processing(True)  # what POST /interrupt does

        comfy.utils.set_progress_bar_global_hook(cancel)
        with pytest.raises(mm.InterruptProcessingException):
            sync(host, model, pos, _target("flow16", target_prompts), latent, steps=6)
        assert seen == [1, 2]
    finally:
        comfy.utils.set_progress_bar_global_hook(old)
        mm.interrupt_current_processing(False)
    assert torch.equal(latent["samples"], before)
    assert out["samples"].device == mm.intermediate_device()


def test_bad_inputs_get_clear_errors(host, family_models, target_prompts):
    model, pos, neg, latent = family_models["eps"]
    flow, fpos, fneg, flow_latent = family_models["flow16"]
    cases = [
        (lambda: sync(host, model, pos, pos, latent, t0=0.0), "t0 must be in (0, 1]"),
        (lambda: sync(host, model, pos, pos, latent, steps=0), "steps must be"),
        (lambda: sync(host, model, pos, pos, flow_latent), "channels but this model works on 4"),
        (lambda: sync(host, model, pos, pos, latent, target_cfg=3.0), "negative: "),
        (lambda: sync(host, model, pos, pos, latent, discretization="heun"), "discretization 'heun' is not one of"),
        (lambda: sync(host, model, pos, pos, latent, precision="float16"), "precision 'float16' is not one of"),
        (lambda: sync(host, model, pos, pos, latent, scheduler="fancy"), "scheduler 'fancy' is not one of"),
        (lambda: sync(host, flow, fpos, fpos, flow_latent, t0=1.0), "t0: with steps 4 and t0 1.0"),
        (lambda: sync(host, flow, fpos, fpos, flow_latent, steps=3, t0=0.86), "lower t0 below 0.857"),
        (lambda: sampler_form(host, flow, fpos, fpos, flow_latent, full=4, start=0), "cannot start at σ = 1"),
        (lambda: sampler_form(host, model, pos, pos, latent, source_cfg=2.0), "negative: "),
    ]
    for fn, message in cases:
        with pytest.raises(ValueError) as err:
            fn()
        assert message in str(err.value), (message, str(err.value))
    # The SAMPLER form: added noise and a guider it cannot read are refused with the fix.
    sampler = call(host, "SDEEditSyncSDESampler", source=pos, source_cfg=1.0, seed=0,
                   discretization="euler_maruyama", precision="float32")[0]
    sigmas = call(host, "SplitSigmas", sigmas=call(host, "BasicScheduler", model=model, scheduler="simple", steps=4,
                                                   denoise=1.0)[0], step=1)[1]
    basic = call(host, "BasicGuider", model=model, conditioning=pos)[0]
    dual = call(host, "DualCFGGuider", model=model, cond1=pos, cond2=pos, negative=neg, cfg_conds=1.0,
                cfg_cond2_negative=1.0, style="regular")[0]
    for noise, guider, lat, message in [
        (call(host, "RandomNoise", noise_seed=1)[0], basic, latent, "Disable Noise"),
        (call(host, "DisableNoise")[0], dual, latent, "guider: "),
    ]:
        with pytest.raises(ValueError, match=message):
            call(host, "SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
                 latent_image=lat)
