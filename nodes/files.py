"""Save and load trajectories: safetensors files in ComfyUI's output / input folders (no pickle).

An expensive recording (hundreds of steps at high resolution) can be reused across sessions.
A file holds the trajectory's stacked tensors and, in the safetensors metadata, its JSON header
(format, version, path, kind, the model identity…) and a SHA-256 of the header and every tensor
(`sampling.trajectory.digest`). Saving writes a temporary file, flushes it and its folder to disk
(fsync) and renames it, so a half-written file is never picked up and a crash after the save
keeps it. Loading refuses a file whose checksum does not match (torn, truncated, edited), whose
header is foreign or from a newer version, that lies outside the input and output folders
(symlinks resolved), or that was recorded with another model; it gives back x_t0 as a LATENT.
"""

from __future__ import annotations

import hashlib
import json
import os

import safetensors
import safetensors.torch
import torch
from comfy_api.latest import io

from ..sampling import Trajectory
from ..sampling.trajectory import digest
from .comfy import folders
from .comfy import model as cm
from .common import CATEGORY, Trajectory_, check_links, check_trajectory, require_trajectory
from .limits import shown

SUFFIX = ".trajectory.safetensors"
MAX_NAME_BYTES = 200  # + "_00001_" + SUFFIX + ".<pid>.tmp" stays under the usual 255-byte limit
META_KEY = "sde_edit_trajectory"
CHECKSUM_KEY = "sde_edit_sha256"


def _inside(path: str, roots: list[str]) -> bool:
    return any(os.path.commonpath([path, r]) == r for r in roots)


def _roots() -> list[str]:
    return [os.path.realpath(d) for d in (folders.input_directory(), folders.output_directory())]


def trajectory_files() -> list[str]:
    """Trajectory files of the input folder, then those of the output folder (annotated `[output]`)."""
    found, roots = [], _roots()
    for base, note in ((folders.input_directory(), ""), (folders.output_directory(), " [output]")):
        for root, _, files in os.walk(base):
            for f in files:
                path = os.path.join(root, f)
                if f.endswith(SUFFIX) and _inside(os.path.realpath(path), roots):  # no links leading out
                    found.append(os.path.relpath(path, base).replace(os.sep, "/") + note)
    return sorted(found)


def resolve(name: str) -> str:
    """The file behind a combo value, which must lie inside ComfyUI's input or output folder."""
    path = os.path.realpath(folders.annotated_path(name))
    if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/") or not _inside(path, _roots()):
        raise ValueError(f"trajectory file {shown(name)} is outside ComfyUI's input and output folders: pick a file "
                         "from the list")
    if not path.endswith(SUFFIX) or not os.path.isfile(path):
        raise ValueError(f"trajectory file {shown(name)} does not exist: save one with SDE Edit Save Trajectory")
    return path


def check_prefix(prefix: str) -> None:
    """A prefix the file system can hold: no NUL, and each part short enough once the counter, the suffix
    and the temporary file's ending are added (file names stop at 255 bytes)."""
    if "\x00" in prefix:
        raise ValueError(f"filename_prefix {shown(prefix)} holds a NUL character, which no file name may contain: "
                         "use letters, digits, '-', '_' and '/' for subfolders")
    for part in prefix.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise ValueError(f"filename_prefix: the name {shown(part)} is over {MAX_NAME_BYTES} bytes, the most a "
                             "file or folder name may have here once the counter and suffix are added: shorten it")


def save(trajectory: Trajectory, path: str) -> None:
    tensors, header = trajectory.to_tensors()
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    text = json.dumps(header)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        safetensors.torch.save_file(tensors, tmp, metadata={META_KEY: text, CHECKSUM_KEY: digest(tensors, text)})
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(os.path.dirname(path) or ".")  # the rename itself reaches the disk
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: str) -> Trajectory:
    name = os.path.basename(path)
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            text = meta[META_KEY]
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        stored = meta.get(CHECKSUM_KEY)
        if stored is None:
            raise ValueError("has no checksum (saved by an sde-edit from before checksums, or by another program): "
                             "record and save it again")
        if stored != digest(tensors, text):
            raise ValueError("does not match its checksum: it was changed or damaged after it was saved: record "
                             "and save it again")
        traj = Trajectory.from_tensors(tensors, json.loads(text))
    except (KeyError, json.JSONDecodeError, safetensors.SafetensorError, OSError, RuntimeError) as e:
        raise ValueError(f"trajectory file {shown(name)} is damaged or not an SDE Edit trajectory ({e}): record "
                         "and save it again") from None
    except ValueError as e:
        fix = "" if "again" in str(e) else ": record and save it again"
        raise ValueError(f"trajectory file {shown(name)}: {e}{fix}") from None
    if not all(bool(torch.isfinite(t).all()) for t in (*traj.latents, *(traj.residuals or ()))):
        raise ValueError(f"trajectory file {shown(name)} holds non-finite values (NaN or inf): record and save it "
                         "again")
    return traj


class SaveTrajectory(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditSaveTrajectory",
            display_name="SDE Edit: Save Trajectory",
            category=f"{CATEGORY}/files",
            description="Save a stage-1 trajectory (with Cycle-SDE's recorded noise) as a safetensors file in "
                        "ComfyUI's output folder, to replay it later without recording again.",
            inputs=[
                Trajectory_.Input("trajectory", tooltip="The trajectory to save."),
                io.String.Input("filename_prefix", default="sde_edit/trajectory",
                                tooltip="File name prefix, inside the output folder (subfolders allowed)."),
            ],
            outputs=[io.String.Output(display_name="filename", tooltip="The saved file, as Load Trajectory lists it.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, trajectory, filename_prefix) -> io.NodeOutput:
        require_trajectory(trajectory)
        check_prefix(filename_prefix)
        out_dir = folders.output_directory()
        try:
            folder, filename, counter, subfolder, _ = folders.save_path(filename_prefix, out_dir)
        except Exception as e:  # ComfyUI raises a bare Exception for a prefix that leaves the output folder
            raise ValueError(f"filename_prefix {shown(filename_prefix)} is not a path inside the output folder: "
                             f"{e}") from None
        name = f"{filename}_{counter:05}_{SUFFIX}"
        try:
            os.makedirs(folder, exist_ok=True)
            save(trajectory, os.path.join(folder, name))
        except (OSError, safetensors.SafetensorError) as e:
            raise ValueError(f"filename_prefix {shown(filename_prefix)}: could not write the file ({e}): pick "
                             "another name, or free space in the output folder") from None
        listed = "/".join(p for p in (subfolder, name) if p) + " [output]"
        return io.NodeOutput(listed)


class LoadTrajectory(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SDEEditLoadTrajectory",
            display_name="SDE Edit: Load Trajectory",
            category=f"{CATEGORY}/files",
            description="Load a saved trajectory from ComfyUI's input or output folder and check it was recorded "
                        "with this model. Gives the recorded x_t0 (edit it, then Resample) and the trajectory.",
            inputs=[
                io.Model.Input("model", tooltip="The model the trajectory was recorded with."),
                io.Combo.Input("trajectory_file", options=trajectory_files(),
                               tooltip="A *.trajectory.safetensors file from the input folder, or from the output "
                                       "folder (marked [output])."),
            ],
            outputs=[
                io.Latent.Output(display_name="x_t0", tooltip="The recorded noisy latent at t0."),
                Trajectory_.Output(display_name="trajectory", tooltip="The loaded trajectory."),
            ],
        )

    @classmethod
    def fingerprint_inputs(cls, model, trajectory_file):
        with open(resolve(trajectory_file), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    @classmethod
    def validate_inputs(cls, trajectory_file, **kwargs):
        try:
            resolve(trajectory_file)
        except ValueError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, model, trajectory_file) -> io.NodeOutput:
        check_links(model=model)
        traj = load(resolve(trajectory_file))
        check_trajectory(model, traj, traj.latents[0], method=None)
        return io.NodeOutput({"samples": cm.to_latent_space(model, traj.latents[0])}, traj)
