"""The pack's public node ids: saved workflows reference them, so they are never renamed.

The host and server tiers fail if any of these is not registered in ComfyUI.
"""

PACK_NODE_IDS = (
    "SDEEditNoiseAddingInversion",
    "SDEEditDDIMInversion",
    "SDEEditCycleSDERecord",
    "SDEEditResample",
    "SDEEditSampler",
    "SDEEditTrajectorySigmas",
    "SDEEditSaveTrajectory",
    "SDEEditLoadTrajectory",
    "SDEEditDragCopyPaste",
    "SDEEditSDEDrag",
    "SDEEditTrainImageLoRA",
    "SDEEditLoadLoRA",
    "SDEEditDragPoints",
    "SDEEditDiffEditMask",
    "SDEEditSyncSDE",
    "SDEEditSyncSDESampler",
    "SDEEditLoadShapesModel",
    "SDEEditShapesPrompt",
    "SDEEditShapesScene",
)
