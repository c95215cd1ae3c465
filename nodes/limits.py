"""The bounds a prompt cannot exceed, checked before any work, each changeable by an environment variable.

A shared ComfyUI server runs workflows written by other people. Widget min/max bound each number on
its own, but some costs are products or free text: the points JSON, SDE-Drag's sub-steps × steps,
DiffEdit's noised copies × batch. Each has a limit here. Over it, the node raises a ValueError that
names the input, the value, the limit and the variable that changes it, before a model call is made.
The values are read when a node runs, so a server started with other values uses them.

| variable | default | what it bounds |
|---|---|---|
| SDE_EDIT_MAX_POINTS_BYTES | 65536 | length of a `points` text |
| SDE_EDIT_MAX_DRAGS | 64 | drags in one `points` list |
| SDE_EDIT_MAX_DRAG_STEPS | 10000 | SDE-Drag's sampling steps: sub-steps m × steps (the paper's 10-px drag: 600) |
| SDE_EDIT_MAX_DIFFEDIT_COPIES | 1000 | DiffEdit's noised copies: noises × latent batch |
| SDE_EDIT_MEMORY_BUDGET_MB | unset | the memory one batched call may plan for (`nodes/comfy/model.py` items_per_call) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..sampling.drag import DragPair, parse_points


def shown(value, limit: int = 60) -> str:
    """repr(value) for a message, cut to `limit` characters: a prompt can hold a megabyte where a word belongs."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    unit: str  # what is counted, e.g. "drags"

    def value(self) -> int:
        """The limit in force: the environment variable if set (a positive integer), else the default."""
        raw = os.environ.get(self.env)
        if raw is None or not raw.strip():
            return self.default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"the environment variable {self.env}={raw!r} must be a positive integer (default "
                             f"{self.default}): fix it and restart ComfyUI")
        return value

    def check(self, name: str, count: int, fix: str) -> None:
        """A ValueError naming input `name` if `count` is over the limit; `fix` says what to change."""
        limit = self.value()
        if count > limit:
            raise ValueError(f"{name}: {count:,} {self.unit} is over this server's limit of {limit:,}: {fix}, or "
                             f"raise the limit with the environment variable {self.env} when starting ComfyUI")


POINTS_BYTES = Limit("SDE_EDIT_MAX_POINTS_BYTES", 65536, "characters")
DRAGS = Limit("SDE_EDIT_MAX_DRAGS", 64, "drags")
DRAG_STEPS = Limit("SDE_EDIT_MAX_DRAG_STEPS", 10000, "sampling steps (sub-steps × steps)")
DIFFEDIT_COPIES = Limit("SDE_EDIT_MAX_DIFFEDIT_COPIES", 1000, "noised copies (noises × latent batch)")
MEMORY_BUDGET_ENV = "SDE_EDIT_MEMORY_BUDGET_MB"


def check_points_text(name: str, text) -> None:
    """The points text's length, before it is parsed (a huge text is refused without reading it)."""
    if isinstance(text, str):
        POINTS_BYTES.check(name, len(text), "give fewer drags (the editor writes about 40 characters a drag)")


def checked_points(text: str, width: int, height: int, name: str = "points") -> list[DragPair]:
    """parse_points within the limits: the text's length first (a huge text is not parsed), then the count."""
    check_points_text(name, text)
    pairs = parse_points(text, width, height)
    DRAGS.check(name, len(pairs), "give fewer drags")
    return pairs


def memory_budget() -> int | None:
    """Bytes from SDE_EDIT_MEMORY_BUDGET_MB, or None when unset."""
    raw = os.environ.get(MEMORY_BUDGET_ENV)
    if raw is None or not raw.strip():
        return None
    try:
        mb = float(raw)
    except ValueError:
        mb = 0.0
    if not mb > 0:
        raise ValueError(f"the environment variable {MEMORY_BUDGET_ENV}={raw!r} must be a positive number of "
                         "megabytes: fix it or unset it, and restart ComfyUI")
    return int(mb * 1024 * 1024)
