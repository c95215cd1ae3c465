"""Save / Load Trajectory: safetensors in ComfyUI's folders, bit-identical round trip, clear refusals."""

import os

import pytest
import torch
from stage_helpers import call, max_err, record, resample


def saved(host, traj, prefix="sde_edit/test") -> str:
    return call(host, "SDEEditSaveTrajectory", trajectory=traj, filename_prefix=prefix)[0]


def test_saved_trajectory_loads_back_bit_identical_and_replays(host, family_models):
    import folder_paths

    model, pos, neg, latent = family_models["flow16"]
    x_t0, traj = record(host, model, pos, neg, latent, steps=4, precision="float64", batch_size=1)
    name = saved(host, traj)
    assert name.endswith(".trajectory.safetensors [output]")
    listed = host.node("SDEEditLoadTrajectory").GET_SCHEMA().inputs[1].options
    assert name in listed
    x_loaded, loaded = call(host, "SDEEditLoadTrajectory", model=model, trajectory_file=name)
    assert torch.equal(loaded.sigmas, traj.sigmas) and loaded.path == traj.path and loaded.kind == traj.kind
    assert all(torch.equal(a, b) for a, b in zip(loaded.latents, traj.latents, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(loaded.residuals, traj.residuals, strict=True))
    assert dict(loaded.meta) == dict(traj.meta) and loaded.x0.dtype == torch.float64
    assert torch.equal(x_loaded["samples"], x_t0["samples"])
    out = resample(host, model, pos, neg, x_loaded, loaded, "cycle_sde")
    assert max_err(out, latent) <= 1e-6
    # Nothing half-written is left beside it.
    folder = os.path.join(folder_paths.get_output_directory(), "sde_edit")
    assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]


def test_load_refuses_another_model_a_damaged_file_and_paths_outside(host, family_models):
    import folder_paths

    model, pos, neg, latent = family_models["flow16"]
    eps_model = family_models["eps"][0]
    _, traj = record(host, model, pos, neg, latent, steps=2)
    name = saved(host, traj)
    with pytest.raises(ValueError, match="record it again with this model"):
        call(host, "SDEEditLoadTrajectory", model=eps_model, trajectory_file=name)
    # A truncated copy in the input folder.
    src = folder_paths.get_annotated_filepath(name)
    broken = os.path.join(folder_paths.get_input_directory(), "broken.trajectory.safetensors")
    with open(src, "rb") as f, open(broken, "wb") as g:
        g.write(f.read()[: os.path.getsize(src) // 2])
    with pytest.raises(ValueError, match="damaged or not an SDE Edit trajectory"):
        call(host, "SDEEditLoadTrajectory", model=model, trajectory_file="broken.trajectory.safetensors")
    # Paths that leave ComfyUI's folders, however spelled.
    load = host.node("SDEEditLoadTrajectory")
    for bad in ("../x.trajectory.safetensors", "/etc/passwd", "sub/../../x.trajectory.safetensors [output]"):
        assert "outside ComfyUI's input and output folders" in str(load.validate_inputs(trajectory_file=bad))
    with pytest.raises(ValueError, match="not a path inside the output folder"):
        saved(host, traj, prefix="../../escape")


def test_links_leading_out_of_the_folders_are_neither_listed_nor_loaded(host, family_models, tmp_path):
    import folder_paths

    model, pos, neg, latent = family_models["eps"]
    _, traj = record(host, model, pos, neg, latent, steps=2)
    src = folder_paths.get_annotated_filepath(saved(host, traj))
    outside = tmp_path / "good.trajectory.safetensors"
    outside.write_bytes(open(src, "rb").read())
    inside = os.path.join(folder_paths.get_input_directory(), "inside_link.trajectory.safetensors")
    out_link = os.path.join(folder_paths.get_input_directory(), "out_link.trajectory.safetensors")
    os.symlink(src, inside)  # a link that stays inside the folders is fine
    os.symlink(outside, out_link)
    try:
        listed = host.node("SDEEditLoadTrajectory").GET_SCHEMA().inputs[1].options
        assert "inside_link.trajectory.safetensors" in listed
        assert "out_link.trajectory.safetensors" not in listed
        load = host.node("SDEEditLoadTrajectory")
        assert "outside ComfyUI's input and output folders" in str(
            load.validate_inputs(trajectory_file="out_link.trajectory.safetensors"))
        call(host, "SDEEditLoadTrajectory", model=model, trajectory_file="inside_link.trajectory.safetensors")
    finally:
        os.remove(inside)
        os.remove(out_link)


def test_a_saved_file_carries_a_checksum_that_a_changed_byte_breaks(host, family_models):
    import folder_paths
    from safetensors import safe_open

    model, pos, neg, latent = family_models["eps"]
    _, traj = record(host, model, pos, neg, latent, steps=2)
    src = folder_paths.get_annotated_filepath(saved(host, traj))
    with safe_open(src, framework="pt") as f:
        assert len(f.metadata()["sde_edit_sha256"]) == 64
    blob = bytearray(open(src, "rb").read())
    blob[-3] ^= 0x04
    name = "changed_byte.trajectory.safetensors"
    with open(os.path.join(folder_paths.get_input_directory(), name), "wb") as g:
        g.write(blob)
    with pytest.raises(ValueError, match="does not match its checksum"):
        call(host, "SDEEditLoadTrajectory", model=model, trajectory_file=name)
