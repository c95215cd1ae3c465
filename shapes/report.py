"""Loss curves and a sample grid of the shapes models, with the in-the-world statistics (docs/shapes_training.md).

    .host/venv/bin/python -m shapes.report shapes/weights/shapes_cond_32 [--per-class 4 --steps 50]

Samples with a plain ancestral DDPM loop (η = 1 DDIM on 50 strided timesteps of the discrete
schedule) and classifier-free guidance, in this process, without ComfyUI; the host test
tests/host/test_shapes_nodes.py measures the same statistics through core KSampler.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import torch

from . import world
from .unet import ShapesUNet, scaled_linear_alphas_cumprod


def load(stem: pathlib.Path) -> tuple[ShapesUNet, dict]:
    from safetensors import safe_open

    with safe_open(str(stem.with_suffix(".safetensors")), framework="pt") as f:
        config = json.loads(f.metadata()["config"])
        sd = {k: f.get_tensor(k).float() for k in f.keys()}
    model = ShapesUNet(tuple(config["channels"]), config["blocks"], config["n_classes"])
    model.load_state_dict(sd)
    return model.eval(), json.loads(stem.with_suffix(".json").read_text())


@torch.no_grad()
def sample(model: ShapesUNet, labels: torch.Tensor | None, size: int, steps: int, cfg: float, seed: int,
           n: int) -> torch.Tensor:
    """[n, 3, size, size] in 0..1: ancestral DDPM (DDIM η = 1) with CFG against the null class."""
    gen = torch.Generator().manual_seed(seed)
    ab = scaled_linear_alphas_cumprod()
    ts = torch.linspace(999, 0, steps).round().long()
    x = torch.randn(n, 3, size, size, generator=gen)
    for i, t in enumerate(ts):
        a_t = ab[t]
        a_prev = ab[ts[i + 1]] if i + 1 < steps else torch.tensor(1.0)
        tt = torch.full((n,), float(t))
        if labels is not None and model.n_classes:
            eps_c = model(x, tt, model.one_hot(labels))
            eps_u = model(x, tt, None)
            eps = eps_u + cfg * (eps_c - eps_u)
        else:
            eps = model(x, tt, None)
        x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
        var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)  # η = 1: DDPM's posterior variance
        direction = (1 - a_prev - var).clamp(min=0).sqrt() * eps
        x = a_prev.sqrt() * x0 + direction + var.sqrt() * torch.randn(x.shape, generator=gen)
    return (x.clamp(-1, 1) + 1) / 2


def statistics(images: torch.Tensor, labels: torch.Tensor | None) -> dict:
    read = [world.dominant_object(im) for im in images]
    out = {"n": len(images), "smooth_share": round(float(world.smooth_share(images).mean()), 3),
           "in_world": round(float(world.in_world(images).float().mean()), 3)}
    if labels is not None:
        out["colour_match"] = round(sum(r[0] == int(c) % 4 for r, c in zip(read, labels, strict=True)) / len(read), 3)
        out["kind_match"] = round(sum(r[1] == int(c) // 4 for r, c in zip(read, labels, strict=True)) / len(read), 3)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stems", nargs="+", help="weights paths without extension")
    p.add_argument("--per-class", type=int, default=4)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--cfg", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--docs", default=str(pathlib.Path(__file__).resolve().parents[1] / "docs"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = pathlib.Path(args.docs)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for stem in map(pathlib.Path, args.stems):
        model, record = load(stem)
        every, init = record["loss_every"], record.get("init", {})
        curve = init.get("loss_curve", []) + record["loss_curve"]  # a continued run (--init): the whole history
        line, = ax.plot([every * (i + 1) for i in range(len(curve))], curve, label=stem.name)
        if init:
            ax.axvline(init["steps"], color=line.get_color(), linestyle=":", linewidth=1)
        size = record["settings"]["size"]
        if model.n_classes:
            labels = torch.arange(world.N_CLASSES).repeat_interleave(args.per_class)
        else:
            labels = None
        n = len(labels) if labels is not None else 8 * args.per_class
        images = sample(model, labels, size, args.steps, args.cfg, args.seed, n)
        stats = statistics(images, labels)
        print(json.dumps({"model": stem.name, "steps": record["steps"] + init.get("steps", 0),
                          "train_seconds": record["train_seconds"] + init.get("train_seconds", 0),
                          "final_loss": round(record["final_loss"], 4)} | stats))
        grid = images.view(-1, args.per_class, 3, size, size).permute(0, 3, 1, 4, 2)
        grid = grid.reshape(grid.shape[0] * size, args.per_class * size, 3)
        grid = grid.repeat_interleave(4, 0).repeat_interleave(4, 1)  # 4× nearest, to see the pixels
        plt.imsave(docs / f"{stem.name}_samples.png", grid.numpy())
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("ε-MSE (mean of 10 steps)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(docs / "shapes_loss.png", dpi=110)


if __name__ == "__main__":
    main()
