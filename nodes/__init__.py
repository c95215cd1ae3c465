"""The pack's ComfyUI nodes (V3 schema). Thin wrappers: the math is in ../sampling, and comfy/ is the one
package that imports ComfyUI internals (the nodes themselves use only comfy_api's schema)."""

from comfy_api.latest import ComfyExtension, io

from .diffedit import DiffEditMask
from .drag import DragCopyPaste, SDEDrag
from .drag_points import DragPoints
from .files import LoadTrajectory, SaveTrajectory
from .lora import LoadLoRA, TrainImageLoRA
from .shapes import LoadShapesModel, ShapesPrompt, ShapesScene
from .stage1 import CycleSDERecord, DDIMInversion, NoiseAddingInversion
from .stage2 import Resample, Sampler, TrajectorySigmas
from .sync import SyncSDE, SyncSDESampler

NODES: list[type[io.ComfyNode]] = [
    NoiseAddingInversion, DDIMInversion, CycleSDERecord, Resample, Sampler, TrajectorySigmas, SaveTrajectory,
    LoadTrajectory,
    DragCopyPaste, SDEDrag, TrainImageLoRA, LoadLoRA,
    DragPoints,
    DiffEditMask,
    SyncSDE, SyncSDESampler,
    LoadShapesModel, ShapesPrompt, ShapesScene,
]


class SDEEditExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> SDEEditExtension:
    return SDEEditExtension()
