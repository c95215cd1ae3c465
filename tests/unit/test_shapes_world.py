"""The shapes world: seeded scenes, exact edits, masks that match the pixels, statistics that tell it apart."""

import torch

from shapes import world


def test_the_same_seed_gives_the_same_scenes_and_pixels():
    a, b = world.random_scenes(7, 4), world.random_scenes(7, 4)
    assert a == b
    assert torch.equal(world.render(a, 32), world.render(b, 32))
    assert world.random_scenes(8, 4) != a


def test_images_are_in_range_at_both_sizes():
    scenes = world.random_scenes(0, 3)
    for size in (32, 64):
        img = world.render(scenes, size)
        assert img.shape == (3, 3, size, size)
        assert 0.0 <= img.min() and img.max() <= 1.0


def test_masks_match_the_rendered_pixels():
    scenes = world.random_scenes(1, 8, n_shapes=3)
    rgb = torch.tensor([[o.rgb for o in s.shapes] for s in scenes])  # [B, K, 3]
    # The visible masks and the background's share add up to one and mix the pixels: exactly without
    # supersampling; with it up to the gradient's variation inside one pooled 2×2 block.
    for ss, atol in ((1, 1e-6), (2, 2e-3)):
        img, bg = world.render(scenes, 32, ss), world.render_background(scenes, 32, ss)
        masks = world.object_masks(scenes, 32, ss)
        assert masks.shape == (8, 3, 32, 32)
        mixed = bg * (1 - masks.sum(1, keepdim=True)) + torch.einsum("bkhw,bkc->bchw", masks, rgb)
        torch.testing.assert_close(mixed, img, atol=atol, rtol=0)
    empty = masks.sum(1) == 0
    assert torch.equal(img.permute(0, 2, 3, 1)[empty], bg.permute(0, 2, 3, 1)[empty])


def test_moving_an_object_restores_the_gradient_where_it_was():
    scene = world.random_scene(__import__("numpy").random.default_rng(3), 1, r_range=(0.15, 0.15))
    o = scene.shapes[0]
    new = world.moved(scene, 0, 1 - o.cx, o.cy if abs(o.cx - 0.5) > 0.3 else 1 - o.cy)
    before, after = world.render(scene, 32), world.render(new, 32)
    old_mask, new_mask = world.object_masks(scene, 32)[0, 0], world.object_masks(new, 32)[0, 0]
    bg = world.render_background(scene, 32)
    free = new_mask == 0
    assert torch.equal(after[0][:, free], bg[0][:, free])  # exactly the gradient, where the object was too
    untouched = (old_mask == 0) & (new_mask == 0)
    assert torch.equal(after[0][:, untouched], before[0][:, untouched])
    assert (old_mask * (new_mask == 0)).sum() > 10


def test_recolouring_and_reshaping_change_only_the_object():
    scene = world.random_scenes(4, 1, n_shapes=1, kind=0, colour=0)[0]
    before = world.render(scene, 64)
    outside = world.object_masks(scene, 64, visible=False)[0, 0] == 0
    blue = world.render(world.recoloured(scene, 0, "blue"), 64)
    assert torch.equal(blue[0][:, outside], before[0][:, outside])
    assert world.dominant_object(blue[0])[0] == world.COLOURS.index("blue")
    square = world.reshaped(scene, 0, "square")
    inside_disc = world.object_masks(scene, 64, visible=False)[0, 0] > 0
    assert (world.object_masks(square, 64, visible=False)[0, 0][inside_disc] == 1).float().mean() > 0.95
    assert world.dominant_object(world.render(square, 64)[0])[1] == 1


def test_prompts_name_classes():
    assert world.parse_prompt("red disc") == world.class_index("disc", "red") == 0
    assert world.parse_prompt("Blue Square") == world.class_index("square", "blue") == 6
    assert world.parse_prompt("  ") == world.NULL_CLASS == 8
    for bad in ("red", "purple disc", "red disc square"):
        try:
            world.parse_prompt(bad)
        except ValueError as e:
            assert "colour" in str(e)
        else:
            raise AssertionError(bad)


def test_statistics_tell_the_world_from_noise_and_read_the_object():
    classes = list(range(world.N_CLASSES)) * 4
    imgs = world.render(world.class_scenes(5, classes), 32)
    assert world.smooth_share(imgs).min() > 0.6
    noise = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert world.smooth_share(noise).max() < 0.1
    read = [world.dominant_object(im) for im in imgs]
    kinds_right = sum(r[1] == c // 4 for r, c in zip(read, classes, strict=True))
    assert all(r[0] == c % 4 for r, c in zip(read, classes, strict=True))
    assert kinds_right >= 0.9 * len(classes)


def test_a_training_batch_renders_in_one_pass_as_each_scene_alone():
    """A batch is one vectorised render (its speed is the benchmarks' business, not a unit test's); scenes with
    fewer objects are padded with absent ones, which must not change their pixels."""
    scenes = world.random_scenes(0, 32)
    assert len({len(s.shapes) for s in scenes}) > 1  # the batch mixes object counts: padding is exercised
    batch = world.render(scenes, 64)
    alone = torch.cat([world.render(s, 64) for s in scenes])
    assert batch.shape == (32, 3, 64, 64) and torch.isfinite(batch).all()
    torch.testing.assert_close(batch, alone, rtol=0, atol=1e-6)


def test_scenes_are_in_the_world_and_flat_or_noisy_images_are_not():
    imgs = world.render(world.class_scenes(6, list(range(world.N_CLASSES)) * 2), 32)
    assert world.in_world(imgs).all()
    flat = torch.full((2, 3, 32, 32), 0.5)
    noise = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert not world.in_world(torch.cat([flat, noise])).any()
