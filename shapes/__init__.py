"""The shapes world: a procedural world of discs and squares on gradients, the small UNet learned on it, its
training and the benchmark metrics scored against its exact answers. Pure torch and numpy: it imports neither
ComfyUI nor the editing math (sampling/), so it runs and tests on its own."""
