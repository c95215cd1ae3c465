"""ComfyUI's input and output folders, as the trajectory files see them (its `folder_paths` module)."""

from __future__ import annotations

import folder_paths


def input_directory() -> str:
    return folder_paths.get_input_directory()


def output_directory() -> str:
    return folder_paths.get_output_directory()


def annotated_path(name: str) -> str:
    """The file a name as ComfyUI's file lists show it stands for ("x.safetensors [output]" → the output folder)."""
    return folder_paths.get_annotated_filepath(name)


def save_path(prefix: str, out_dir: str):
    """(folder, filename, counter, subfolder, prefix) of the next file for `prefix`, as Save Image numbers them;
    ComfyUI raises a bare Exception for a prefix that leaves the output folder."""
    return folder_paths.get_save_image_path(prefix, out_dir)


def lora_files() -> list[str]:
    """The LoRA files ComfyUI lists (models/loras and any extra paths)."""
    return folder_paths.get_filename_list("loras")


def load_lora_file(name: str) -> dict:
    """{name: tensor} of a LoRA file in ComfyUI's loras folders (safetensors, or ComfyUI's safe torch load)."""
    import comfy.utils

    return comfy.utils.load_torch_file(folder_paths.get_full_path_or_raise("loras", name), safe_load=True)
