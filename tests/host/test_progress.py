"""Long nodes move a progress bar once per step (with a preview) and stop on Cancel mid-run."""

import pytest
from stage_helpers import call, record, resample


@pytest.fixture
def progress_hook():
    import comfy.utils

    calls = []
    old = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: calls.append((value, total)))
    yield calls
    comfy.utils.set_progress_bar_global_hook(old)


def test_every_long_node_reports_each_step(host, family_models, progress_hook):
    model, pos, neg, latent = family_models["flow16"]
    x_t0, traj = record(host, model, pos, neg, latent, steps=4, batch_size=2)
    assert [v for v, t in progress_hook if t == 4] == [1, 2, 3, 4]
    progress_hook.clear()
    resample(host, model, pos, neg, x_t0, traj, "cycle_sde")
    assert [v for v, t in progress_hook if t == 4] == [1, 2, 3, 4]
    progress_hook.clear()
    call(host, "SDEEditDDIMInversion", model=model, positive=pos, negative=neg, cfg=1.0, cfg_schedule="constant",
         latent=latent, t0=0.5, steps=3, scheduler="simple", precision="float32")
    assert [v for v, t in progress_hook if t == 3] == [1, 2, 3]


def test_cancel_stops_a_node_within_a_step(host, family_models):
    import comfy.model_management as mm
    import comfy.utils

    model, pos, neg, latent = family_models["flow16"]
    x_t0, traj = record(host, model, pos, neg, latent, steps=6, batch_size=1)
    seen = []

    def hook(value, total, preview, node_id=None):
        seen.append(value)
        if value == 2:
            mm.interrupt_current_processing(True)  # what POST /interrupt does

    old = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            resample(host, model, pos, neg, x_t0, traj, "cycle_sde")
    finally:
        comfy.utils.set_progress_bar_global_hook(old)
        mm.interrupt_current_processing(False)
    assert seen == [1, 2]  # the next model call never ran
