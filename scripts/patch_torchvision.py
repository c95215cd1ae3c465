"""Guard torchvision's two unguarded fake-op registrations (test host only).

torchvision 0.28.0 from PyPI cannot load its C++ ops beside the CPU build of torch 2.13,
and `torchvision/_meta_registrations.py` then fails at import on
`@torch.library.register_fake("torchvision::nms")` (and `qnms`). ComfyUI imports
torchvision unconditionally, so the host needs the pure-Python parts importable.
Idempotent: a guarded file is left as it is.
"""

import importlib.util
import pathlib
import sys

GUARD = "_sde_edit_guard"


def main() -> int:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        print("torchvision is not installed; nothing to patch")
        return 0
    path = pathlib.Path(spec.origin).parent / "_meta_registrations.py"
    text = path.read_text()
    if GUARD in text:
        return 0
    helper = (
        f"\n\ndef {GUARD}(name):\n"
        "    if torchvision.extension._has_ops():\n"
        "        return torch.library.register_fake(name)\n"
        "    return lambda fn: fn\n\n"
    )
    anchor = "import torchvision.extension  # noqa: F401\n"
    if anchor not in text:
        print(f"unexpected torchvision layout in {path}", file=sys.stderr)
        return 1
    text = text.replace(anchor, anchor + helper, 1)
    for op in ("nms", "qnms"):
        text = text.replace(f'@torch.library.register_fake("torchvision::{op}")', f'@{GUARD}("torchvision::{op}")')
    path.write_text(text)
    print(f"patched {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
