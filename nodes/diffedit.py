"""DiffEdit's mask (Couairon et al., ICLR 2023; docs/design.md §5): where the model's noise predictions
under the target and the reference prompt disagree. The math is `sampling.diffedit_mask`.

DiffEdit-SDE / DiffEdit-ODE are wirings of the stage nodes with this mask (example_workflows/).
"""

from __future__ import annotations

import math

import torch
from comfy_api.latest import io

from ..sampling import diffedit_mask, streams
from ..sampling.diffedit import MAX_SMOOTHING, check_options
from . import limits
from .comfy import guider
from .comfy import model as cm
from .common import CATEGORY, check_links, newer_schema_fields, seed_input

NAMES = ("target", "reference")


class DiffEditMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditDiffEditMask",
            **newer_schema_fields(search_aliases=["auto mask", "edit mask", "diffedit"]),
            display_name="SDE Edit: DiffEdit Mask",
            category=f"{CATEGORY}/diffedit",
            description="DiffEdit's automatic edit mask: noise the latent several times to half the time range, "
                        "predict the noise under the target and the reference prompt, and mark where they differ "
                        "(mean over noises and channels of |ε_target − ε_reference|, clamped at clamp_factor × its "
                        "mean, normalised, thresholded). Connect the mask to SDE Edit Resample (white = editable): "
                        "with Cycle-SDE Record that is DiffEdit-SDE, with DDIM Inversion DiffEdit-ODE.",
            inputs=[
                io.Model.Input("model", tooltip="The model whose noise predictions are compared."),
                io.Conditioning.Input("target", tooltip="The target prompt: what the edit should make."),
                io.Conditioning.Input("reference", tooltip="The reference prompt: the source caption, or an empty "
                                                           "prompt. Encode it with the same CLIP as the target."),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode)."),
                io.Float.Input(
                    "cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                    tooltip="Guidance scale of both predictions (7.5 in the reference pipeline). With one negative "
                            "prompt for both, CFG's unconditional part cancels: ε_target − ε_reference = cfg·(the "
                            "conditional difference). So no negative prompt is needed nor evaluated (2 predictions "
                            "per noise, not 3), and, the map being divided by its own mean, every cfg > 0 gives the "
                            "same mask (0 gives an empty one). Model patches that change CFG itself are not "
                            "applied."),
                io.Int.Input("noises", default=10, min=1, max=1000,
                             tooltip="How many independently noised copies the map averages over (10 in the "
                                     "reference pipeline). More: a smoother map, proportionally more compute."),
                io.Float.Input("noise_strength", default=0.5, min=0.01, max=0.99, step=0.01,
                               tooltip="How far up the noise range the copies are noised: a fraction of the "
                                       "model's time range (0.5 in the reference pipeline), ComfyUI's percent "
                                       "convention, the same on every model family."),
                io.Float.Input("clamp_factor", default=3.0, min=0.01, max=100.0, step=0.1,
                               tooltip="Removes extreme values: the map is clamped at clamp_factor × its mean "
                                       "(per image) and divided by that, giving the soft map in [0, 1] (3 in the "
                                       "reference pipeline). Lower: larger masks."),
                io.Float.Input("threshold", default=0.5, min=0.0, max=1.0, step=0.01,
                               tooltip="The mask is 1 where the soft map is above this (strictly, as the reference "
                                       "pipeline and ThresholdMask). Lower: larger masks."),
                seed_input("the noise added to the copies"),
                io.Int.Input("batch_size", default=0, min=0, max=1000,
                             tooltip="Noised copies per model call, each evaluated under both prompts in that one "
                                     "call. 0 = all copies at once (one call where they fit in the free memory; "
                                     "any value is lowered to what fits, see the log)."),
                # Optional, so API prompts written before these two options existed still validate.
                io.Float.Input("smoothing", default=0.0, min=0.0, max=MAX_SMOOTHING, step=0.25, optional=True,
                               tooltip="Blurs the difference map (a Gaussian of this std, in latent pixels) before it "
                                       "is normalised, so scattered pixels join into regions. 0: none (the reference "
                                       "pipeline). See the measured settings in the node's help."),
                io.Boolean.Input("fill_holes", default=False, optional=True,
                                 tooltip="Fills every dip of the soft map that the image border cannot reach up to "
                                         "the level of its rim, before the threshold: a map that lights only an "
                                         "object's outline then covers the object. Off: the reference pipeline."),
                io.Vae.Input("vae", optional=True,
                             tooltip="Optional: the VAE that encoded the latent, for the masks' image size. Without "
                                     "it, latent size × 8 (SD1.x, SD2.x, SDXL, SD3, Flux)."),
            ],
            outputs=[
                io.Mask.Output(display_name="mask", tooltip="The binary edit mask at image size (1 = editable)."),
                io.Mask.Output(display_name="soft_map",
                               tooltip="The normalised difference map in [0, 1] at image size, after the smoothing "
                                       "and hole filling; mask = soft_map > threshold. Each latent pixel is a block "
                                       "of pixels (nearest upscaling)."),
            ],
        )

    @classmethod
    def execute(cls, model, target, reference, latent, cfg, noises, noise_strength, clamp_factor, threshold, seed,
                batch_size, smoothing=0.0, fill_holes=False, vae=None) -> io.NodeOutput:
        check_links(model=model, target=target, reference=reference, latent=latent, vae=vae)
        samples = latent["samples"]
        cm.check_latent(model, samples)
        cm.check_same_encoder(target=target, reference=reference)  # one batch holds both prompts
        check_options(noises, clamp_factor, threshold, smoothing)
        if not 0.0 < noise_strength < 1.0:
            raise ValueError(f"noise_strength must lie in (0, 1) (a fraction of the time range; 0.5 in the "
                             f"reference pipeline), got {noise_strength!r}")
        if batch_size < 0:
            raise ValueError(f"batch_size must be ≥ 0 (0 = all copies in one call), got {batch_size!r}")
        if not math.isfinite(cfg):
            raise ValueError(f"cfg must be a finite number, got {cfg!r}")
        if vae is not None and getattr(vae, "latent_channels", samples.shape[1]) != samples.shape[1]:
            raise ValueError(f"vae makes {vae.latent_channels}-channel latents but the latent has {samples.shape[1]}: "
                             "connect the VAE that encoded the image, or none")
        sigma = cm.sigma_at(model, noise_strength)
        x0 = cm.to_model_space(model, samples)
        path = cm.model_path(model)
        limits.DIFFEDIT_COPIES.check("noises", noises * samples.shape[0], f"lower noises or the latent's batch "
                                     f"({samples.shape[0]})")

        def body(ctx: guider.Context):
            wanted = min(batch_size or noises, noises)
            size = cm.items_per_call(ctx.model_patcher, samples, 2 * samples.shape[0], wanted,
                                     "DiffEdit noised copies")
            progress = cm.progress(model, math.ceil(noises / size), preview=False)

            def denoise_pair(x, sig):
                return tuple(ctx.evaluate(x, sig, NAMES))  # both prompts on the copies: one batched call

            return diffedit_mask(denoise_pair, x0, sigma, path, noises, streams.generator(seed, "diffedit"), scale=cfg,
                                 clamp=clamp_factor, threshold=threshold, smoothing=smoothing, fill=bool(fill_holes),
                                 batch_size=size, callback=progress)

        conds = dict(zip(NAMES, (target, reference), strict=True))
        grid = torch.tensor([sigma, 0.0], dtype=torch.float64)
        mask, soft = guider.run_for_value(model, conds, 1.0, samples, grid, seed, body)
        scale = cm.image_scale(vae)
        return io.NodeOutput(cm.latent_mask_to_image(mask, scale), cm.latent_mask_to_image(soft, scale))
