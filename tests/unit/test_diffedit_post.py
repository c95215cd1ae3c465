"""DiffEdit's optional map steps (sampling/diffedit.py): the Gaussian blur and the grey-level hole filling, and
what they do to a map that lights only an object's rim."""

import math
from collections import deque

import pytest
import torch
from test_diffedit import SIGMA, _pair, _x0, gaussian, iou, mean_field

from sampling import diffedit_mask
from sampling.diffedit import check_options, fill_holes, smooth


def flood_filled(mask: torch.Tensor) -> torch.Tensor:
    """The binary hole filling, written plainly: every 0 the border's 0s cannot reach (4-neighbourhood) becomes 1."""
    h, w = mask.shape
    seen = torch.zeros_like(mask, dtype=torch.bool)
    todo = deque((y, x) for y in range(h) for x in range(w) if (y in (0, h - 1) or x in (0, w - 1)) and not mask[y, x])
    for y, x in todo:
        seen[y, x] = True
    while todo:
        y, x = todo.popleft()
        for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= yy < h and 0 <= xx < w and not seen[yy, xx] and not mask[yy, xx]:
                seen[yy, xx] = True
                todo.append((yy, xx))
    return ~seen


@pytest.mark.parametrize("seed", range(6))
def test_hole_filling_of_a_binary_map_is_the_flood_fill(seed):
    g = torch.Generator().manual_seed(seed)
    masks = torch.rand(3, 13, 17, generator=g) < (0.35 + 0.1 * seed)
    filled = fill_holes(masks.to(torch.float32))
    for b in range(3):
        assert torch.equal(filled[b] > 0.5, flood_filled(masks[b])), b


def test_a_ring_becomes_a_disc_and_an_open_ring_stays_a_ring():
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    r2 = (yy - 8) ** 2 + (xx - 8) ** 2
    disc, ring = r2 <= 25, (r2 <= 25) & (r2 > 9)
    open_ring = ring.clone()
    open_ring[8, 10:] = False  # a channel from the inside to the border
    out = fill_holes(torch.stack([ring, open_ring]).to(torch.float32)) > 0.5
    assert torch.equal(out[0], disc)
    assert torch.equal(out[1], open_ring)


def test_grey_holes_rise_to_the_lowest_level_of_their_rim_and_nothing_falls():
    m = torch.full((1, 9, 9), 0.1)
    m[0, 2:7, 2:7] = 0.8  # the rim
    m[0, 3:6, 3:6] = 0.2  # the dip inside it
    m[0, 2, 4] = 0.6  # the rim's lowest point: the level the dip spills over
    out = fill_holes(m)
    assert torch.allclose(out[0, 3:6, 3:6], torch.tensor(0.6))
    out_inside = out.clone()
    out_inside[0, 3:6, 3:6] = m[0, 3:6, 3:6]
    assert torch.equal(out_inside, m)  # only the dip changed
    rand = torch.rand(4, 12, 12, generator=torch.Generator().manual_seed(3))
    filled = fill_holes(rand)
    assert bool((filled >= rand).all()) and torch.equal(fill_holes(filled), filled)


def test_the_blur_is_a_normalised_gaussian_of_the_given_std():
    d = torch.zeros(1, 41, 41, dtype=torch.float64)
    d[0, 20, 20] = 1.0
    out = smooth(d, 2.5)
    t = torch.arange(41, dtype=torch.float64) - 20
    var_x = float((out[0].sum(0) * t**2).sum())
    assert math.isclose(float(out.sum()), 1.0, rel_tol=1e-12)
    assert math.isclose(var_x, 2.5**2, rel_tol=0.02)  # truncated at 3 std
    assert torch.allclose(out[0], out[0].T)
    const = torch.full((2, 7, 9), 0.3, dtype=torch.float64)
    assert torch.allclose(smooth(const, 4.0), const)  # the border is replicated, not darkened
    assert smooth(d, 0) is d


@pytest.mark.parametrize("path", ["ve", "flow"])
def test_a_rim_only_map_finds_the_whole_object_with_the_fill(path):
    """Prompts that differ only on an object's rim (as the shapes model's do for a recolour) give a ring; the
    fill makes it the object."""
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    r2 = (yy - 8) ** 2 + (xx - 7) ** 2
    disc, ring = r2 <= 25, (r2 <= 25) & (r2 > 9)
    change = 0.8 * ring.to(torch.float64)[None, None].expand(2, 4, 16, 16)
    pair = _pair(gaussian(mean_field() + change, path), gaussian(mean_field(), path))

    def score(**kw):
        mask, _ = diffedit_mask(pair, _x0(), SIGMA[path], path, 4, torch.Generator().manual_seed(0), **kw)
        return min(iou(mask[b] > 0, disc) for b in range(2))

    assert score() < 0.7
    assert score(fill=True) >= 0.95
    assert score(smoothing=1.0) < score(fill=True)  # a blur widens the ring outward as much as it closes it
    assert score(smoothing=1.0, fill=True) >= 0.8


@pytest.mark.parametrize("smoothing", [-1.0, 16.5, math.nan, math.inf])
def test_bad_smoothing_is_refused(smoothing):
    with pytest.raises(ValueError, match="smoothing must be a number of latent pixels in"):
        check_options(10, 3.0, 0.5, smoothing)
