"""Tests for na_accel.windows.window: WindowSpec.resolve (clamping) and ResolvedWindow (density, describe)."""

from __future__ import annotations

import random

import pytest

from na_accel import load_recipe
from na_accel.windows import ResolvedWindow, WindowSpec, format_axes
from helpers.sample_recipes import base_recipe, window
from helpers.window_oracles import pair_count, random_axis


def test_resolve_fits_no_clamping():
    spec = window((80, 80), stride=(16, 16), dilation=(1, 2))
    resolved = spec.resolve((256, 192))
    assert isinstance(resolved, ResolvedWindow)
    assert resolved.grid == (256, 192)
    assert resolved.kernel_size == (80, 80)
    assert resolved.stride == (16, 16)
    assert resolved.dilation == (1, 2)
    assert resolved.is_causal == (False, False)
    assert resolved.clamped_axes == ()
    assert not resolved.covers_grid


def test_resolve_exact_fit_is_not_clamped():
    resolved = window((8, 4), dilation=(1, 2)).resolve((8, 8))  # 8*1 == 8, 4*2 == 8
    assert resolved.kernel_size == (8, 4)
    assert resolved.dilation == (1, 2)
    assert resolved.clamped_axes == ()
    assert not resolved.covers_grid  # axis 1 sees only 4 of 8 tokens


def test_resolve_clamps_axis_that_does_not_fit():
    spec = window((80, 80), stride=(16, 16), dilation=(1, 1))
    resolved = spec.resolve((64, 128))
    assert resolved.kernel_size == (64, 80)
    assert resolved.stride == (1, 16)
    assert resolved.dilation == (1, 1)
    assert resolved.clamped_axes == (0,)
    assert not resolved.covers_grid


def test_resolve_clamps_when_dilation_makes_window_too_large():
    spec = window((8, 8), stride=(4, 2), dilation=(3, 1))
    resolved = spec.resolve((20, 20))  # 8*3 = 24 > 20 on axis 0 only
    assert resolved.kernel_size == (20, 8)
    assert resolved.stride == (1, 2)
    assert resolved.dilation == (1, 1)
    assert resolved.clamped_axes == (0,)


def test_resolve_covers_grid_when_all_axes_full():
    resolved = window((80, 80), stride=(16, 16)).resolve((32, 48))
    assert resolved.kernel_size == (32, 48)
    assert resolved.stride == (1, 1)
    assert resolved.clamped_axes == (0, 1)
    assert resolved.covers_grid
    assert resolved.density == pytest.approx(1.0)


def test_resolve_full_but_causal_does_not_cover_grid():
    resolved = window((80, 80), causal=(True, False)).resolve((32, 48))
    assert resolved.kernel_size == (32, 48)
    assert resolved.is_causal == (True, False)
    assert not resolved.covers_grid


def test_resolve_axis_of_length_one():
    resolved = window((4, 4), stride=(2, 2)).resolve((1, 16))
    assert resolved.kernel_size == (1, 4)
    assert resolved.stride == (1, 2)
    assert resolved.clamped_axes == (0,)


def test_resolve_wrong_number_of_axes():
    with pytest.raises(ValueError, match=r"axes"):
        window((4, 4)).resolve((16,))


def test_resolve_from_loaded_recipe():
    recipe = load_recipe(base_recipe())
    resolved = recipe.default.resolve((64, 256))  # 1024x4096 pixels
    assert resolved.kernel_size == (64, 80)
    assert resolved.clamped_axes == (0,)


@pytest.mark.parametrize(
    "grid, kernel, stride, dilation, causal, expected",
    [
        # n=7, k=3, s=1: every query sees exactly 3 keys -> 21/49 = 3/7.
        ((7,), (3,), (1,), (1,), (False,), 3 / 7),
        # n=6, k=2, s=2: every query sees 2 keys -> 12/36.
        ((6,), (2,), (2,), (1,), (False,), 2 / 6),
        # n=6, k=2, d=2: groups {0,2,4} and {1,3,5}; every query sees 2 of its group -> 12/36.
        ((6,), (2,), (1,), (2,), (False,), 2 / 6),
        # n=4, k=2 causal: query 0 sees {0}; 1 sees {0,1}; 2 sees {1,2}; 3 sees {2,3} -> 7/16.
        ((4,), (2,), (1,), (1,), (True,), 7 / 16),
        # Product of per-axis densities: (3/6) * (3/6).
        ((6, 6), (3, 3), (1, 1), (1, 1), (False, False), (3 / 6) * (3 / 6)),
        # Full axis times 3/7.
        ((5, 7), (5, 3), (1, 1), (1, 1), (False, False), 1.0 * 3 / 7),
    ],
)
def test_density_matches_hand_count(grid, kernel, stride, dilation, causal, expected):
    resolved = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
    assert resolved.clamped_axes == ()
    assert resolved.density == pytest.approx(expected, rel=1e-6)


def test_density_independent_brute_force_1d():
    # Count query-key pairs of a non-causal 1-D window (stride 1) from the definition: the window
    # of k keys is centered on the query and shifted inward at the borders.
    n, k = 9, 4
    pairs = 0
    for i in range(n):
        start = min(max(i - k // 2, 0), n - k)
        pairs += len(range(start, start + k))
    expected = pairs / (n * n)
    assert expected == pytest.approx(4 / 9)
    resolved = window((k,), stride=(1,), dilation=(1,), causal=(False,)).resolve((n,))
    assert resolved.density == pytest.approx(expected, rel=1e-6)


def test_describe_mentions_window_and_clamping():
    resolved = window((80, 80), stride=(16, 16)).resolve((64, 256))
    text = resolved.describe()
    assert "64x80" in text and "stride 1x16" in text
    assert "clamped" in text and "[0]" in text
    assert window((8, 8), causal=(True, False)).describe().endswith("causal 1x0")


# --- against an independent model of the rules ------------------------------------------------


def expected_resolution(grid, spec):
    """WindowSpec.resolve's documented rule, axis by axis: an axis where kernel x dilation does not fit
    becomes the whole axis (kernel = n, stride 1, dilation 1); other axes keep the window as written."""
    kernel, stride, dilation, clamped = [], [], [], []
    for axis, n in enumerate(grid):
        fits = spec.kernel_size[axis] * spec.dilation[axis] <= n
        kernel.append(spec.kernel_size[axis] if fits else n)
        stride.append(spec.stride[axis] if fits else 1)
        dilation.append(spec.dilation[axis] if fits else 1)
        if not fits:
            clamped.append(axis)
    return tuple(kernel), tuple(stride), tuple(dilation), tuple(clamped)


@pytest.mark.parametrize("seed", range(3))
def test_resolve_clamps_exactly_the_axes_that_do_not_fit(seed):
    rng = random.Random(seed)
    for _ in range(200):
        rank = rng.randint(1, 3)
        grid = tuple(rng.randint(1, 40) for _ in range(rank))
        kernel = tuple(rng.randint(2, 48) for _ in range(rank))
        spec = WindowSpec(kernel, tuple(rng.randint(1, k) for k in kernel), tuple(rng.randint(1, 4) for _ in kernel),
                          tuple(rng.random() < 0.3 for _ in kernel))
        resolved = spec.resolve(grid)
        assert (resolved.kernel_size, resolved.stride, resolved.dilation, resolved.clamped_axes) == \
            expected_resolution(grid, spec), (grid, spec)
        assert resolved.grid == grid and resolved.is_causal == spec.is_causal
        full = all(k == n for k, n in zip(resolved.kernel_size, grid))
        assert resolved.covers_grid == (full and not any(spec.is_causal))


@pytest.mark.parametrize("seed", range(3))
def test_density_equals_a_brute_force_count_of_attended_pairs(seed):
    rng = random.Random(100 + seed)
    for _ in range(12):
        axes = [random_axis(rng, max_n=7) for _ in range(rng.randint(1, 3))]
        grid = tuple(a[0] for a in axes)
        spec = WindowSpec(*(tuple(a[i] for a in axes) for i in range(1, 5)))
        resolved = spec.resolve(grid)
        attended, total = pair_count(grid, resolved)
        assert resolved.density == pytest.approx(attended / total, rel=1e-6), (grid, spec)  # float32 means


def test_a_full_axis_window_is_dense_along_it_only_when_not_causal():
    # n=4 causal with a whole-axis window: query i sees keys 0..i -> 1+2+3+4 = 10 of 16 pairs.
    assert window((4,), causal=(True,)).resolve((4,)).density == pytest.approx(10 / 16)
    assert window((4,)).resolve((4,)).density == pytest.approx(1.0)


def test_format_axes_joins_with_x():
    assert format_axes((16, 8)) == "16x8"
    assert format_axes([3]) == "3"
    assert format_axes((1, 30, 48)) == "1x30x48"
