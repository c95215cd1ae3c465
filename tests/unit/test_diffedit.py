"""DiffEdit's mask (sampling/diffedit.py, docs/design.md §5) on denoisers whose two conditionings differ
only inside a known region."""

import math

import pytest
import torch
from unit_helpers import Counting, field

from sampling import Gaussian, Guided, binary_mask, diffedit_mask, soft_map
from sampling.diffedit import copy_maps, difference_map
from sampling.kernels import eps_hat
from sampling.schedule import coeffs

SHAPE = (2, 4, 16, 16)
SIGMA = {"ve": 1.2, "flow": 0.55}


def regions() -> torch.Tensor:
    """The editable region of each image, [2, 16, 16]: a rectangle in image 0, a disc in image 1."""
    r = torch.zeros(2, 16, 16, dtype=torch.bool)
    r[0, 3:9, 4:12] = True
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    r[1] = (yy - 10) ** 2 + (xx - 7) ** 2 <= 16
    return r


def bump(seed: int = 7) -> torch.Tensor:
    """A target-minus-reference change inside the regions only, varying per pixel and channel (±0.6…1.4)."""
    g = torch.Generator().manual_seed(seed)
    size = 0.6 + 0.8 * torch.rand(SHAPE, generator=g, dtype=torch.float64)
    sign = torch.where(torch.rand(SHAPE, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
    return size * sign * regions()[:, None].to(torch.float64)


def mean_field() -> torch.Tensor:
    return torch.stack([field(11, SHAPE[1:]), field(12, SHAPE[1:])]) * 0.5


def gaussian(mean: torch.Tensor, path: str):
    """The exact denoiser of Gaussian data N(mean_b, 0.3·I) for each image b, on copy-major rows."""

    def denoise(x, sigma, scale=None):
        return Gaussian(_tile(mean, x), 0.3, path)(x, sigma)

    return denoise


def analytic_pair(path: str, change: torch.Tensor):
    """Exact denoisers of Gaussian data whose means differ by `change` (zero outside the regions)."""
    return _pair(gaussian(mean_field() + change, path), gaussian(mean_field(), path))


def local_pair(change: torch.Tensor, leak: float = 0.05):
    """A pixel-local, non-linear denoiser: the prompts differ by change·(1 + 0.5·sin 3x) plus a faint leak."""
    g = torch.Generator().manual_seed(3)
    faint = leak * torch.randn(SHAPE, generator=g, dtype=torch.float64)

    def ref(x, sigma, scale=None):
        return 0.5 * torch.tanh(x) + _tile(mean_field(), x)

    def tgt(x, sigma, scale=None):
        return ref(x, sigma) + _tile(change, x) * (1 + 0.5 * torch.sin(3 * x)) + _tile(faint, x) * torch.cos(x)

    return _pair(tgt, ref)


def _tile(per_image: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-image tensor [B, …] repeated to copy-major rows [n·B, …]."""
    return per_image.to(x).repeat(x.shape[0] // per_image.shape[0], *([1] * (x.ndim - 1)))


def _pair(tgt, ref):
    def denoise_pair(x, sigma):
        return tgt(x, sigma, None), ref(x, sigma, None)

    return denoise_pair


def _x0() -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _mask(pair, path="ve", n=10, seed=0, **kw):
    return diffedit_mask(pair, _x0(), SIGMA[path], path, n, torch.Generator().manual_seed(seed), **kw)


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("path", ["ve", "flow"])
@pytest.mark.parametrize("kind", ["analytic", "local"])
def test_the_mask_recovers_the_region_where_the_prompts_differ(path, kind):
    pair = analytic_pair(path, bump()) if kind == "analytic" else local_pair(bump())
    mask, soft = _mask(pair, path, scale=7.5)
    assert mask.shape == soft.shape == (2, 16, 16)
    for b in range(2):
        assert iou(mask[b] > 0, regions()[b]) >= 0.9, (kind, path, b, iou(mask[b] > 0, regions()[b]))


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_soft_map_in_unit_interval_and_mask_is_its_threshold(threshold):
    mask, soft = _mask(local_pair(bump(), leak=0.5), threshold=threshold)
    assert soft.dtype == mask.dtype == torch.float32
    assert float(soft.min()) >= 0.0 and float(soft.max()) <= 1.0
    assert float(soft.max()) == 1.0  # the clamp reaches its ceiling where the prompts differ most
    assert torch.equal(mask, (soft > threshold).float())
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("path", ["ve", "flow"])
def test_identical_conditionings_give_an_empty_mask(path, threshold):
    model = gaussian(mean_field(), path)
    mask, soft = _mask(_pair(model, model), path, threshold=threshold, scale=7.5)
    assert not mask.any() and not soft.any()


def test_guidance_with_a_shared_negative_gives_the_same_map_as_three_branches():
    """ε̂_cfg(tgt) − ε̂_cfg(ref) = w·(ε̂_tgt − ε̂_ref): the unconditional branch cancels, w drops out."""
    path, n, w, sigma = "ve", 6, 7.5, SIGMA["ve"]
    uncond = Gaussian(field(20, SHAPE[1:]), 0.3, path)
    tgt = gaussian(mean_field() + bump(), path)
    ref = gaussian(mean_field() + 0.3 * torch.roll(bump(), 5, dims=-1), path)
    # The reference pipeline's way: full CFG on each prompt (three branches), then the map.
    x0 = _x0()
    z = torch.randn((n, *x0.shape), generator=torch.Generator().manual_seed(4), dtype=torch.float32)
    a, s = coeffs(torch.tensor(sigma, dtype=torch.float64), path)
    x = (a * x0 + s * z.to(x0)).flatten(0, 1)
    sig = torch.full((x.shape[0],), sigma, dtype=torch.float64)
    scale = torch.full_like(sig, w)
    eps = [eps_hat(x, Guided(cond=c, uncond=uncond)(x, sig, scale), a, s) for c in (tgt, ref)]
    want = soft_map(difference_map(copy_maps(*eps), n), 3.0).float()
    mask, soft = diffedit_mask(_pair(tgt, ref), x0, sigma, path, n, torch.Generator().manual_seed(4), scale=w)
    torch.testing.assert_close(soft, want, rtol=1e-6, atol=1e-6)
    assert torch.equal(mask, binary_mask(soft, 0.5))
    # Any w ≠ 0 gives this map; w = 0 makes the two guided predictions equal: an empty mask.
    _, soft_1 = diffedit_mask(_pair(tgt, ref), x0, sigma, path, n, torch.Generator().manual_seed(4), scale=1.0)
    torch.testing.assert_close(soft_1, soft, rtol=1e-6, atol=1e-6)
    mask_0, soft_0 = diffedit_mask(_pair(tgt, ref), x0, sigma, path, n, torch.Generator().manual_seed(4), scale=0.0)
    assert not mask_0.any() and not soft_0.any()


def test_statistics_are_per_image():
    """Image 1's map ten times stronger changes nothing: each image is normalised by its own mean."""
    change = bump()
    _, soft = _mask(local_pair(change))
    stronger = change.clone()
    stronger[1] *= 10
    _, soft_strong = _mask(local_pair(stronger))
    torch.testing.assert_close(soft_strong[0], soft[0], rtol=0, atol=0)
    assert not torch.equal(soft_strong[1], soft[1])  # the sin term is not a pure rescaling …
    assert iou(soft_strong[1] > 0.5, soft[1] > 0.5) >= 0.9  # … but the region stays the region


@pytest.mark.parametrize("n, batch_size", [(10, None), (10, 3), (10, 1), (4, 10)])
def test_one_call_per_batch_of_copies_and_the_same_result_at_any_batch_size(n, batch_size):
    calls = Counting(lambda x, sigma, scale: torch.stack(local_pair(bump())(x, sigma)))
    seen = []

    def pair(x, sigma):
        tgt, ref = calls(x, sigma, sigma)  # (Counting wants a per-sample scale: σ stands in, unused)
        return tgt, ref

    mask, soft = _mask(pair, n=n, batch_size=batch_size, callback=lambda i, x, x0: seen.append(i))
    per_call = n if batch_size is None else min(batch_size, n)
    assert calls.count == math.ceil(n / per_call) and seen == list(range(calls.count))
    assert [c[0] for c in calls.calls] == [min(per_call, n - k) * SHAPE[0] for k in range(0, n, per_call)]
    ref_mask, ref_soft = _mask(local_pair(bump()), n=n)
    assert torch.equal(soft, ref_soft) and torch.equal(mask, ref_mask)


def test_inputs_are_not_modified_and_the_seed_decides():
    x0 = _x0()
    before = x0.clone()
    pair = local_pair(bump(), leak=1.0)
    _, soft_a = diffedit_mask(pair, x0, 1.0, "ve", 3, torch.Generator().manual_seed(1))
    _, soft_b = diffedit_mask(pair, x0, 1.0, "ve", 3, torch.Generator().manual_seed(1))
    _, soft_c = diffedit_mask(pair, x0, 1.0, "ve", 3, torch.Generator().manual_seed(2))
    assert torch.equal(x0, before) and torch.equal(soft_a, soft_b) and not torch.equal(soft_a, soft_c)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "number of noises must be a whole number ≥ 1"),
    ({"threshold": -0.1}, "threshold must lie in [0, 1]"),
    ({"threshold": 1.5}, "threshold must lie in [0, 1]"),
    ({"clamp": 0.0}, "clamp factor must be a number > 0"),
    ({"clamp": float("nan")}, "clamp factor must be a number > 0"),
    ({"batch_size": 0}, "batch_size (noised copies per model call) must be"),
    ({"sigma": 0.0}, "noise level must be a finite σ > 0"),
])
def test_bad_settings_get_clear_errors(kwargs, message):
    args = {"n": 2, "sigma": 1.0} | kwargs
    n, sigma = args.pop("n"), args.pop("sigma")
    with pytest.raises(ValueError) as err:
        diffedit_mask(local_pair(bump()), _x0(), sigma, "ve", n, torch.Generator(), **args)
    assert message in str(err.value)


def test_map_helpers_check_shapes():
    with pytest.raises(ValueError, match="of one shape"):
        copy_maps(torch.zeros(2, 4, 8, 8), torch.zeros(2, 4, 8, 4))
    with pytest.raises(ValueError, match="per-copy maps"):
        difference_map(torch.zeros(5, 8, 8), 2)
