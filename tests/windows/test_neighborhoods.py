"""Tests for na_accel.windows.neighborhoods: per-axis key ranges and counts equal the explicit masks.

``ResolvedWindow.density`` counts attended pairs from key ranges (no torch, no mask); ``masks.py`` stays
the explicit-mask reference, and these tests hold the two equal: exactly, as integer counts, over every
small axis, borders and odd sizes, windows wider than the axis, strides past the kernel, and N-D grids.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from na_accel.windows import WindowSpec, axis_neighborhood_mask, visual_neighborhood_mask
from na_accel.windows.neighborhoods import axis_attended_pairs, axis_ranges
from helpers.window_oracles import natten_rule_neighbors, random_axis


def mask_count(n, k, s, d, causal) -> int:
    return int(axis_neighborhood_mask(n, k, s, d, causal).sum())


def every_axis(max_n):
    """Every (n, kernel, stride, dilation, causal) with n <= max_n, legal or not (kernel up to n + 2,
    stride up to kernel + 2, dilation up to n + 1)."""
    for n in range(1, max_n + 1):
        for k, d in itertools.product(range(1, n + 3), range(1, n + 2)):
            for s, causal in itertools.product(range(1, k + 3), (False, True)):
                yield n, k, s, d, causal


def test_the_attended_count_of_every_small_axis_is_the_masks():
    cases = 0
    for n, k, s, d, causal in every_axis(9):
        assert axis_attended_pairs(n, k, s, d, causal) == mask_count(n, k, s, d, causal), (n, k, s, d, causal)
        cases += 1
    assert cases > 5000


@pytest.mark.parametrize("seed", range(4))
def test_the_attended_count_of_random_long_axes_is_the_masks(seed):
    rng = random.Random(seed)
    for _ in range(40):
        n = rng.choice([rng.randint(10, 80), rng.randint(81, 300)])
        d = rng.choice([1, 1, 2, 3, 5])
        k = rng.randint(1, max(1, n // d))
        s = rng.randint(1, k)
        causal = rng.random() < 0.3
        assert axis_attended_pairs(n, k, s, d, causal) == mask_count(n, k, s, d, causal), (n, k, s, d, causal)


def test_legal_windows_have_ranges_inside_their_group_that_are_the_rule():
    rng = random.Random(7)
    for _ in range(300):
        n, k, s, d, causal = random_axis(rng, max_n=31)
        for g, (m, lo, hi) in enumerate(axis_ranges(n, k, s, d, causal)):
            members = list(range(g, n, d))
            assert m == len(members) and (lo >= 0).all() and (hi <= m).all() and (lo < hi).all()
            for qi, i in enumerate(members):
                keys = {members[j] for j in range(lo[qi], hi[qi])}
                assert keys == natten_rule_neighbors(n, k, s, d, causal, i), (n, k, s, d, causal, i)


def resolved_windows(seed, count, max_n):
    rng = random.Random(seed)
    for _ in range(count):
        rank = rng.randint(1, 3)
        grid = tuple(rng.randint(1, max_n) for _ in range(rank))
        kernel = tuple(rng.randint(1, max_n + 3) for _ in range(rank))  # some wider than the axis: clamped
        spec = WindowSpec(kernel, tuple(rng.randint(1, k) for k in kernel), tuple(rng.randint(1, 4) for _ in kernel),
                          tuple(rng.random() < 0.3 for _ in kernel))
        yield spec.resolve(grid)


@pytest.mark.parametrize("seed", range(3))
def test_density_is_the_product_of_the_masks_per_axis_counts(seed):
    for window in resolved_windows(seed, 200, max_n=40):
        axes = zip(window.grid, window.kernel_size, window.stride, window.dilation, window.is_causal)
        expected = math.prod(mask_count(*axis) / (axis[0] * axis[0]) for axis in axes)
        assert window.density == expected, window  # the same fractions, multiplied in the same order


@pytest.mark.parametrize("seed", range(2))
def test_density_is_the_fraction_of_the_full_mask(seed):
    for window in resolved_windows(10 + seed, 60, max_n=9):
        mask = visual_neighborhood_mask(window.grid, window)
        assert window.density == pytest.approx(int(mask.sum()) / mask.numel(), rel=1e-12, abs=0), window


def test_density_reads_no_mask(monkeypatch):
    from na_accel.windows import masks

    def no_masks(*args, **kwargs):
        raise AssertionError("density built a mask")

    monkeypatch.setattr(masks, "axis_neighborhood_mask", no_masks)
    window = WindowSpec((9, 7), (3, 2), (2, 1), (True, False)).resolve((33, 17))
    assert window.density == pytest.approx(math.prod(
        axis_attended_pairs(n, k, s, d, c) / n ** 2 for n, k, s, d, c in
        zip(window.grid, window.kernel_size, window.stride, window.dilation, window.is_causal)))
