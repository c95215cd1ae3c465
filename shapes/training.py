"""Train the shapes world's ε-prediction UNet on the CPU (docs/design.md §8; docs/shapes_training.md).

    .host/venv/bin/python -m shapes.training --conditional --size 32 --minutes 40 --threads 1 \
        --out shapes/weights/shapes_cond_32

writes `<out>.safetensors` (EMA weights, fp16, config in the metadata) and `<out>.json` (settings,
seed, steps, training time, final loss, loss curve), rewritten every `--save-every` minutes so a
run that is stopped early still leaves usable weights. Data are drawn fresh every step from the
seeded world (shapes/world.py): no data set, no download. Schedule: SD's scaled_linear
discrete one (β 0.00085–0.012, 1000 steps), the one ComfyUI's ModelSamplingDiscrete uses.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import numpy as np
import torch

from . import world
from .unet import ShapesUNet, config_of, scaled_linear_alphas_cumprod


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output path without extension")
    p.add_argument("--size", type=int, default=32, choices=(32, 64))
    p.add_argument("--conditional", action="store_true", help="class-conditional (kind × colour + null class)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget")
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: the time budget only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: 1 if the machine is loaded, else 2)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100, help="linear learning-rate warm-up steps")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay (with the usual (1+n)/(10+n) warm-up)")
    p.add_argument("--p-null", type=float, default=0.1, help="share of labels replaced by the null class")
    p.add_argument("--channels", default="32,64,128")
    p.add_argument("--precision", default="bf16", choices=("bf16", "fp32"),
                   help="bf16: autocast the forward pass (1.7x faster on CPUs with AVX512-BF16); weights stay fp32")
    p.add_argument("--init", default="",
                   help="continue from these weights (path without extension, e.g. a committed run): same "
                        "channels and conditioning; the EMA starts from them at full decay")
    p.add_argument("--save-every", type=float, default=5.0, help="minutes between checkpoints")
    return p.parse_args(argv)


def pick_threads(requested: int) -> int:
    if requested:
        return requested
    load = os.getloadavg()[0]
    return 1 if load > 0.5 else 2  # 2 threads on a shared machine slowed training > 8× (docs/design.md §8)


def batch(rng: np.random.Generator, args, n_classes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x0 in [−1, 1] [B, 3, S, S], labels [B] or None) freshly drawn from the world."""
    if n_classes:
        labels = rng.integers(0, n_classes, args.batch)
        scenes = [world.random_scene(rng, 1, kind=int(c) // len(world.COLOURS), colour=int(c) % len(world.COLOURS))
                  for c in labels]
        labels = np.where(rng.random(args.batch) < args.p_null, world.NULL_CLASS, labels)
        y = torch.from_numpy(labels)
    else:
        scenes = [world.random_scene(rng, (1, 3), r_range=(0.08, 0.18)) for _ in range(args.batch)]
        y = None
    return world.render(scenes, args.size) * 2 - 1, y


def save(model_ema: ShapesUNet, args, record: dict) -> None:
    from safetensors.torch import save_file

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to(torch.float16).contiguous() for k, v in model_ema.state_dict().items()}
    meta = {"config": json.dumps(config_of(model_ema)), "size": str(args.size), "prediction": "eps",
            "schedule": "scaled_linear 0.00085-0.012 x1000", "range": "[-1, 1]"}
    tmp = out.with_suffix(".tmp")
    save_file(sd, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out.with_suffix(".safetensors"))
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")


def main(argv=None) -> None:
    args = parse_args(argv)
    threads = pick_threads(args.threads)
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    n_classes = world.N_CLASSES if args.conditional else 0
    channels = tuple(int(c) for c in args.channels.split(","))
    model = ShapesUNet(channels, 2, n_classes)
    ema = ShapesUNet(channels, 2, n_classes)
    init = {}
    if args.init:
        from safetensors.torch import load_file

        model.load_state_dict({k: v.float() for k, v in load_file(args.init + ".safetensors").items()})
        prev = json.loads(pathlib.Path(args.init + ".json").read_text())
        earlier = prev.get("init", {})
        init = {"from": args.init, "steps": prev["steps"] + earlier.get("steps", 0),
                "train_seconds": prev["train_seconds"] + earlier.get("train_seconds", 0),
                "final_loss": prev["final_loss"],
                "loss_curve": earlier.get("loss_curve", []) + prev["loss_curve"]}  # the whole history, oldest first
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    ab = scaled_linear_alphas_cumprod()
    record = {"settings": vars(args) | {"threads": threads, "channels": list(channels)},
              "parameters": sum(p.numel() for p in model.parameters()),
              "torch": torch.__version__, "load_at_start": os.getloadavg()[0],
              "loss_every": 10, "loss_curve": []} | ({"init": init} if init else {})
    start = last_save = time.time()
    step, window = 0, []
    print(f"training {'conditional' if n_classes else 'unconditional'} {args.size}px, {threads} thread(s), "
          f"{record['parameters']} parameters", flush=True)
    while True:
        elapsed = time.time() - start
        if elapsed > 60 * args.minutes or (args.steps and step >= args.steps):
            break
        x0, labels = batch(rng, args, n_classes)
        t = torch.randint(0, 1000, (args.batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        a = ab[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
        y = model.one_hot(labels) if labels is not None else None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            pred = model(x_t, t.float(), y)
        loss = torch.nn.functional.mse_loss(pred.float(), eps)
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / args.warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decay = args.ema if init else min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - decay)
        step += 1
        window.append(loss.item())
        if step % record["loss_every"] == 0:
            record["loss_curve"].append(float(np.mean(window[-record["loss_every"]:])))
        if step % 50 == 0:
            print(f"step {step} loss {np.mean(window[-50:]):.4f} {elapsed / 60:.1f} min", flush=True)
        if time.time() - last_save > 60 * args.save_every:
            _finish(record, step, start, window)
            save(ema, args, record)
            last_save = time.time()
    _finish(record, step, start, window)
    save(ema, args, record)
    print(f"done: {step} steps in {record['train_seconds']:.0f} s, final loss {record['final_loss']:.4f}", flush=True)


def _finish(record: dict, step: int, start: float, window: list[float]) -> None:
    record["steps"] = step
    record["train_seconds"] = round(time.time() - start, 1)
    record["final_loss"] = float(np.mean(window[-100:]))  # mean of the last 100 steps (one step is noisy)
    record["load_at_end"] = os.getloadavg()[0]


if __name__ == "__main__":
    main()
