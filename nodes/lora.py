"""The input image's LoRA for SDE-Drag (docs/design.md §4): train it, or load one from a file.

Both give a LORA_MODEL (ComfyUI's Train LoRA output type, {weight name: tensor}) for the `lora` input of
SDE-Drag, DDIM Inversion, Cycle-SDE Record and Resample, which apply it with the paper's falling strength.
"""

from __future__ import annotations

from comfy_api.latest import io

from .comfy import folders
from .comfy import lora as cl
from .comfy import model as cm
from .common import CATEGORY, Lora_, check_choice, check_links, newer_schema_fields, seed_input
from .limits import shown


class TrainImageLoRA(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditTrainImageLoRA",
            **newer_schema_fields(search_aliases=["lora", "fine-tune", "train lora", "dragdiffusion lora"]),
            display_name="SDE Edit: Train Image LoRA",
            category=f"{CATEGORY}/drag",
            description="Fine-tune a small LoRA on the input image, the SDE-Drag authors' recipe (rank 4, 100 AdamW "
                        "steps at lr 2e-4, noise-prediction MSE at random levels, the image's own prompt), so that "
                        "the drag keeps the image's identity. Connect its lora to SDE-Drag.",
            inputs=[
                io.Model.Input("model", tooltip="The model the drag will use."),
                io.Conditioning.Input("positive", tooltip="The image's own prompt (the paper: its caption)."),
                io.Latent.Input("latent", tooltip="The input image's latent (VAE Encode); a batch trains on all."),
                io.Int.Input("steps", default=100, min=1, max=2000,
                             tooltip="Training steps (the paper: 100; about 20 s on an A100 at 512 px)."),
                io.Int.Input("rank", default=4, min=1, max=128,
                             tooltip="The LoRA's rank (the paper's benchmark: 4; its demo: 16)."),
                io.Float.Input("learning_rate", default=2e-4, min=1e-6, max=1e-1, step=1e-5, round=1e-6,
                               tooltip="AdamW's learning rate (the paper: 2e-4)."),
                seed_input("the LoRA's initial weights and the training noise"),
                io.Combo.Input("training_dtype", options=list(cl.TRAIN_DTYPES), default="float32",
                               tooltip="The dtype the model computes in while training (float32 as the paper; "
                                       "bfloat16 halves the activations on large models)."),
            ],
            outputs=[Lora_.Output(display_name="lora", tooltip="The LoRA (Save LoRA Weights stores it)."),
                     io.Float.Output(display_name="loss", tooltip="The mean loss over the last 10 steps.")],
        )

    @classmethod
    def execute(cls, model, positive, latent, steps, rank, learning_rate, seed, training_dtype) -> io.NodeOutput:
        check_links(model=model, positive=positive, latent=latent)
        check_choice("training_dtype", training_dtype, cl.TRAIN_DTYPES)
        for name, value, low, high in (("steps", steps, 1, 2000), ("rank", rank, 1, 128)):
            if not (isinstance(value, int) and low <= value <= high):
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {shown(value)}")
        if not 0 < learning_rate <= 0.1:
            raise ValueError(f"learning_rate must lie in (0, 0.1] (the paper: 2e-4), got {shown(learning_rate)}")
        samples = latent["samples"]
        cm.check_latent(model, samples)
        lora, losses = cl.train_image_lora(model, positive, samples, steps=steps, rank=rank,
                                           learning_rate=learning_rate, seed=seed,
                                           dtype=cl.TRAIN_DTYPES[training_dtype], progress=cm.progress(model, steps))
        tail = losses[-10:]
        return io.NodeOutput(lora, sum(tail) / len(tail))


class LoadLoRA(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditLoadLoRA",
            display_name="SDE Edit: Load LoRA Weights",
            category=f"{CATEGORY}/drag",
            description="A LoRA file of models/loras as LORA_MODEL weights, for the lora input of SDE-Drag and the "
                        "stage nodes (which set its strength per step; Load LoRA would fix it).",
            inputs=[io.Combo.Input("lora_name", options=folders.lora_files(),
                                   tooltip="A file of ComfyUI's loras folder (Save LoRA Weights writes to "
                                           "output/loras: move it there).")],
            outputs=[Lora_.Output(display_name="lora", tooltip="The LoRA's weights.")],
        )

    @classmethod
    def execute(cls, lora_name) -> io.NodeOutput:
        check_choice("lora_name", lora_name, folders.lora_files())
        return io.NodeOutput(folders.load_lora_file(lora_name))
