"""SDE Edit: diffusion image editing with SDEs, as ComfyUI nodes.

ComfyUI loads this file through its custom-node loader and calls `comfy_entrypoint`. Outside
ComfyUI (the math's unit tests) nothing here imports ComfyUI: the node modules are imported only
when ComfyUI's `comfy_api` is importable, and an error there propagates so a broken pack fails
loudly instead of silently registering nothing.
"""

import importlib.util

WEB_DIRECTORY = "./web"

if importlib.util.find_spec("comfy_api") is not None:
    from .nodes import comfy_entrypoint  # noqa: F401

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
