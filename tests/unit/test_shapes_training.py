"""The shapes UNet and its training script: a two-step run writes weights that load back and predict."""

import json
import pathlib

import torch

from shapes.unet import ShapesUNet, scaled_linear_alphas_cumprod

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_unet_predicts_noise_of_the_input_shape_with_and_without_a_class():
    model = ShapesUNet(n_classes=8)
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([10.0, 900.0])
    assert model(x, t, model.one_hot(torch.tensor([0, 8]))).shape == x.shape
    assert model(x, t).shape == x.shape
    assert ShapesUNet()(torch.randn(1, 3, 64, 64), t[:1]).shape == (1, 3, 64, 64)


def test_the_schedule_is_sd15s():
    ab = scaled_linear_alphas_cumprod()
    sigma = ((1 - ab) / ab).sqrt()
    assert abs(float(sigma[-1]) - 14.6146) < 1e-3 and abs(float(sigma[0]) - 0.0292) < 1e-3


def test_a_short_training_run_writes_weights_and_a_record(tmp_path):
    from shapes import training as train_shapes
    from shapes.report import load

    out = tmp_path / "tiny"
    train_shapes.main(["--conditional", "--steps", "2", "--threads", "1", "--batch", "4", "--out", str(out)])
    model, record = load(out)
    assert record["steps"] == 2 and record["settings"]["seed"] == 0 and record["final_loss"] > 0
    assert model.n_classes == 8
    assert json.loads(json.dumps(record)) == record
