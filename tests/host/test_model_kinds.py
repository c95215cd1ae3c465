"""The noise path of every model family ComfyUI 0.3.75 can make, read from behaviour (nodes/comfy/kinds.py),
and types that follow no known path refused with their names, by the node a user runs."""

from __future__ import annotations

import copy
import importlib

import pytest
import torch
from stage_helpers import call

# (core node, its arguments) -> the path the pack must read. Every sampling option 0.3.75 ships but
# cosmos_rflow, which is refused below.
FAMILIES = [
    ("ModelSamplingDiscrete", ("eps", False), "ve"),
    ("ModelSamplingDiscrete", ("v_prediction", False), "ve"),
    ("ModelSamplingDiscrete", ("v_prediction", True), "ve"),  # zero-terminal-SNR
    ("ModelSamplingDiscrete", ("lcm", False), "ve"),
    ("ModelSamplingDiscrete", ("x0", False), "ve"),
    ("ModelSamplingDiscrete", ("img_to_img", False), "ve"),
    ("ModelSamplingContinuousEDM", ("v_prediction", 120.0, 0.002), "ve"),
    ("ModelSamplingContinuousEDM", ("edm", 80.0, 0.002), "ve"),
    ("ModelSamplingContinuousEDM", ("eps", 80.0, 0.002), "ve"),
    ("ModelSamplingContinuousV", ("v_prediction", 500.0, 0.03), "ve"),
    ("ModelSamplingStableCascade", (2.0,), "ve"),
    ("ModelSamplingSD3", (3.0,), "flow"),
    ("ModelSamplingAuraFlow", (1.73,), "flow"),
    ("ModelSamplingFlux", (1.15, 0.5, 64, 64), "flow"),
]


def adapter(host):
    """The pack's nodes/comfy/model.py as ComfyUI's loader imported it (its package name is the folder's path)."""
    package = host.node("SDEEditResample").__module__.rsplit(".", 2)[0]
    return importlib.import_module(f"{package}.nodes.comfy.model")


def patched(host, node: str, args: tuple):
    model = host.checkpoint("sd15")[0]
    cls = host.node(node)
    fn = getattr(cls(), cls.FUNCTION)
    return fn(model, *args)[0]


def with_sampling(model, name: str, **methods):
    """A clone of `model` whose model_sampling is of a new subclass `name` of its own, overriding `methods`."""
    ms = model.get_model_object("model_sampling")
    fabricated = copy.copy(ms)
    fabricated.__class__ = type(name, (type(ms),), methods)
    out = model.clone()
    out.add_object_patch("model_sampling", fabricated)
    return out


@pytest.mark.parametrize(("node", "args", "path"), FAMILIES, ids=lambda v: str(v))
def test_every_core_sampling_type_reads_as_its_path(host, node, args, path):
    assert adapter(host).model_path(patched(host, node, args)) == path


def test_the_checkpoints_and_the_shapes_model_read_as_their_paths(host):
    assert adapter(host).model_path(host.checkpoint("sd15")[0]) == "ve"
    assert adapter(host).model_path(host.checkpoint("sd3")[0]) == "flow"
    shapes = call(host, "SDEEditLoadShapesModel", weights="shapes_cond_32.safetensors")[0]
    assert adapter(host).model_path(shapes) == "ve"


def unknown_models(host):
    import comfy.model_sampling as ms

    sd15, sd3 = host.checkpoint("sd15")[0], host.checkpoint("sd3")[0]

    def half_noise(self, sigma, noise, latent_image, max_denoise=False):  # as a CONST with noise_scale 0.5
        return ms.CONST.noise_scaling(self, sigma, noise * 0.5, latent_image)

    def doubled(self, sigma, model_output, model_input):
        return model_input - 2 * model_output * sigma.view(-1, 1, 1, 1)

    return {
        "cosmos_rflow": (patched(host, "ModelSamplingContinuousEDM", ("cosmos_rflow", 80.0, 0.002)),
                         "COSMOS_RFLOW", "network output"),
        "scaled_const": (with_sampling(sd3, "NoiseScaledFlow", noise_scaling=half_noise),
                         "NoiseScaledFlow", "noise_scaling follows neither"),
        "unknown_prediction": (with_sampling(sd15, "DoubledEps", calculate_denoised=doubled),
                               "DoubledEps", "network output"),
    }


@pytest.mark.parametrize("kind", ["cosmos_rflow", "scaled_const", "unknown_prediction"])
def test_a_model_on_no_known_path_is_refused_by_the_node_naming_its_type(host, kind):
    model, name, why = unknown_models(host)[kind]
    latent = {"samples": torch.zeros(1, 16 if kind == "scaled_const" else 4, 8, 8)}
    with pytest.raises(ValueError) as e:
        call(host, "SDEEditNoiseAddingInversion", model=model, latent=latent, t0=0.5, steps=2, seed=0,
             scheduler="simple", independent_noise=False, precision="float32")
    message = str(e.value)
    assert message.startswith("model: its sampling type") and name in message and why in message, message
    assert "rather than edited on a guessed path" in message


def test_a_flow_whose_network_gives_x0_still_reads_as_a_flow(host):
    """Behaviour, not names: a CONST subclass predicting x0 directly (as newer image-to-image flows do) is on
    the flow path; the denoiser still returns x0."""
    model = with_sampling(host.checkpoint("sd3")[0], "ImgToImgFlow",
                          calculate_denoised=lambda self, sigma, model_output, model_input: model_output)
    assert adapter(host).model_path(model) == "flow"
