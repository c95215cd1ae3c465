"""trajectory: stage 2's checks with actionable errors, immutability, a bit-identical round trip."""

import dataclasses
import json

import pytest
import torch
from unit_helpers import SHAPE, grid, models

from sampling import Trajectory, forward_trajectory, gaussian_noise, record_cycle_sde, sample
from sampling.trajectory import digest


def recorded(path: str = "ve", n: int = 4, dtype=torch.float64) -> tuple[Trajectory, Trajectory]:
    """A forward trajectory and its Cycle-SDE record."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(SHAPE, generator=g, dtype=dtype)
    fwd = forward_trajectory(x0, grid(path, n), path, g, meta={"model": "test", "seed": 0})
    return fwd, record_cycle_sde(models(path)["guided"], fwd, 2.0)


def test_indexing():
    fwd, rec = recorded(n=4)
    assert fwd.steps == 4 and len(fwd.latents) == 5 and fwd.residuals is None and fwd.kind == "noise_adding"
    assert rec.kind == "cycle_sde" and len(rec.residuals) == 4 and rec.shape == SHAPE
    assert rec.sigmas[0] > rec.sigmas[-1] == 0 and rec.latents is fwd.latents
    assert rec.meta["model"] == "test"


def test_check_passes_on_matching_settings():
    fwd, rec = recorded()
    assert (
        rec.check(like=torch.zeros(SHAPE), sigmas=grid("ve", 4).float(), path="ve", method="cycle_sde") is rec
    )
    assert fwd.check(like=torch.zeros(SHAPE), method="ddpm") is fwd


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"like": torch.zeros(2, 4, 8, 8)}, r"shape \[3, 4, 8, 8\].*record it from this latent"),
        ({"like": torch.zeros(3, 16, 8, 8)}, "record it from this latent"),
        ({"like": torch.zeros(3, 4, 16, 8)}, "record it from this latent"),
        ({"sigmas": grid("ve", 5)}, "other noise levels.*same steps, t0 and scheduler"),
        ({"sigmas": grid("ve", 4) * 1.01}, "other noise levels"),
        ({"path": "flow"}, "'ve' path.*record it with this model"),
        ({"method": "euler"}, "unknown method"),
    ],
)
def test_check_errors_say_what_to_do(kwargs, match):
    _, rec = recorded()
    with pytest.raises(ValueError, match=match):
        rec.check(**kwargs)


def test_cycle_sde_needs_residuals():
    fwd, _ = recorded()
    with pytest.raises(ValueError, match="record it with the Cycle-SDE node at these settings"):
        fwd.check(method="cycle_sde")
    with pytest.raises(ValueError, match="Cycle-SDE node"):
        sample(models("ve")["guided"], fwd.latents[0], fwd, "cycle_sde", 2.0)


def test_sample_checks_the_trajectory_against_its_input():
    _, rec = recorded()
    with pytest.raises(ValueError, match="record it from this latent"):
        sample(models("ve")["guided"], torch.zeros(1, 4, 8, 8), rec, "cycle_sde", 2.0)
    with pytest.raises(ValueError, match="record it with this model"):
        sample(models("ve")["guided"], rec.latents[0], rec, "ddim", 2.0, path="flow")


def test_construction_is_validated():
    fwd, rec = recorded()
    with pytest.raises(ValueError, match="5 latents"):
        Trajectory(fwd.sigmas, "ve", fwd.latents[:-1], "noise_adding")
    with pytest.raises(ValueError, match="residuals"):
        Trajectory(fwd.sigmas, "ve", fwd.latents, "noise_adding", rec.residuals)
    with pytest.raises(ValueError, match="4 residuals"):
        Trajectory(fwd.sigmas, "ve", fwd.latents, "cycle_sde", rec.residuals[:-1])
    with pytest.raises(ValueError, match="one shape"):
        Trajectory(fwd.sigmas, "ve", fwd.latents[:-1] + (torch.zeros(1),), "noise_adding")
    with pytest.raises(ValueError, match="kind"):
        Trajectory(fwd.sigmas, "ve", fwd.latents, "ddpm")


def test_is_immutable():
    fwd, rec = recorded()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.kind = "noise_adding"
    with pytest.raises(TypeError):
        rec.meta["seed"] = 1
    latents = list(fwd.latents)
    t = Trajectory(fwd.sigmas, "ve", latents, "noise_adding")
    latents.pop()
    assert isinstance(t.latents, tuple) and len(t.latents) == 5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("which", ["forward", "cycle_sde"])
def test_tensor_round_trip_is_bit_identical(which, dtype):
    fwd, rec = recorded("flow", n=3, dtype=dtype)
    traj = fwd if which == "forward" else rec
    tensors, header = traj.to_tensors()
    json.loads(json.dumps(header))  # the header is JSON
    assert all(t.is_contiguous() for t in tensors.values())
    back = Trajectory.from_tensors(tensors, header)
    assert (back.path, back.kind, dict(back.meta)) == (traj.path, traj.kind, dict(traj.meta))
    assert torch.equal(back.sigmas, traj.sigmas) and back.sigmas.dtype == torch.float64
    for a, b in zip(
        back.latents + (back.residuals or ()), traj.latents + (traj.residuals or ()), strict=True
    ):
        assert a.dtype == b.dtype == dtype and torch.equal(a, b)


def test_round_trip_through_safetensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    _, rec = recorded()
    tensors, header = rec.to_tensors()
    safetensors.save_file(tensors, tmp_path / "t.safetensors", metadata={"sde_edit": json.dumps(header)})
    with open(tmp_path / "t.safetensors", "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    back = Trajectory.from_tensors(
        safetensors.load_file(tmp_path / "t.safetensors"), json.loads(meta["sde_edit"])
    )
    out = sample(models("ve")["guided"], back.latents[0], back, "cycle_sde", 2.0)
    assert torch.equal(out, sample(models("ve")["guided"], rec.latents[0], rec, "cycle_sde", 2.0))


def test_from_tensors_rejects_other_headers():
    _, rec = recorded()
    tensors, header = rec.to_tensors()
    with pytest.raises(ValueError, match="record it again"):
        Trajectory.from_tensors(tensors, {**header, "version": 99})


def test_meta_must_be_json():
    fwd, _ = recorded()
    t = Trajectory(fwd.sigmas, "ve", fwd.latents, "noise_adding", meta={"noise": gaussian_noise})
    with pytest.raises(ValueError, match="JSON"):
        t.to_tensors()


def test_from_tensors_says_which_header_it_refuses():
    _, rec = recorded()
    tensors, header = rec.to_tensors()
    with pytest.raises(ValueError, match="written by a newer sde-edit .trajectory version 7"):
        Trajectory.from_tensors(tensors, {**header, "version": 7})
    with pytest.raises(ValueError, match="its format is 'x'"):
        Trajectory.from_tensors(tensors, {**header, "format": "x"})


def test_digest_sees_every_byte_name_dtype_and_shape():
    _, rec = recorded()
    tensors, header = rec.to_tensors()
    text = json.dumps(header)
    d = digest(tensors, text)
    assert d == digest({k: v.clone() for k, v in reversed(tensors.items())}, text)  # content, not order
    changed = []
    flipped = tensors["latents"].clone()
    flipped.view(-1)[7] = torch.nextafter(flipped.view(-1)[7], torch.tensor(float("inf"), dtype=flipped.dtype))
    changed.append(tensors | {"latents": flipped})
    other_dtype = torch.float32 if tensors["latents"].dtype == torch.float64 else torch.float64
    changed.append(tensors | {"latents": tensors["latents"].to(other_dtype)})
    changed.append(tensors | {"latents": tensors["latents"].reshape(tensors["latents"].shape[0], -1)})
    changed.append({k: v for k, v in tensors.items() if k != "residuals"})
    changed.append(tensors | {"extra": torch.zeros(1)})
    for other in changed:
        assert digest(other, text) != d
    assert digest(tensors, text.replace('"cycle_sde"', '"noise_adding"')) != d
