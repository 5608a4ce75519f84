"""``na_accel.kernels.snapping.snap_axis`` without its quadratic candidate list: the same answers as the implementation that
listed every (kernel, stride) pair (kept here as the oracle), and memory that does not grow with
the square of the axis."""

from __future__ import annotations

import math
import random
import textwrap

import pytest

from helpers.bounded import run_bounded_code
from na_accel.kernels.snapping import STRIDE_WEIGHT, snap_axis
from na_accel.kernels.tilecount import axis_tiles
from na_accel.recipe.scaling import MAX_AXIS


def _snap_axis_quadratic(n: int, k0: int, s0: int, d: int, tq: int, tk: int) -> tuple[int, int, int]:
    """snap_axis as it was (commit 331eff7): every candidate listed, then sorted. The oracle."""
    if k0 == n and d == 1:
        return k0, s0, d  # already the whole axis
    kmax = n // d
    group_lengths = {(n - g + d - 1) // d for g in range(d)}
    perfect_possible = all(m % tq == 0 and m % tk == 0 for m in group_lengths)

    def cost(k: int, s: int) -> tuple[float, int, int]:
        return (abs(math.log(k / k0)) + STRIDE_WEIGHT * abs(math.log(s / s0)), -k, s)

    candidates = [(k, s) for k in range(tk, kmax + 1, tk) if k >= 2 for s in range(tq, k + 1, tq)]
    whole = (n, 1, 1)
    choice = None
    if perfect_possible:
        for k, s in sorted(candidates, key=lambda c: cost(*c)):
            if axis_tiles(n, k, s, d, False, tq, tk).block_sparse:
                choice = (k, s, d)
                break
    else:
        aligned = [(k, s) for k, s in candidates if (k // 2 - s // 2) % tk == 0]
        if aligned:
            k, s = min(aligned, key=lambda c: cost(*c))
            choice = (k, s, d)
    if choice is None:
        return whole
    visited = axis_tiles(n, choice[0], choice[1], choice[2], False, tq, tk).visited
    if visited >= axis_tiles(n, n, 1, 1, False, tq, tk).visited:
        return whole
    return choice


def _random_case(rng: random.Random) -> tuple[int, int, int, int, int, int]:
    """An axis and a legal window on it (as snap_window sees them: resolved, so k * d <= n)."""
    n = rng.choice([rng.randint(2, 40), rng.randint(2, 300), rng.choice([64, 96, 128, 192, 256, 288, 300])])
    d = rng.choice([1, 1, 1, rng.randint(1, 4), rng.randint(1, max(1, n // 2))])
    k0 = rng.randint(2, max(2, n // d)) if n // d >= 2 else n
    if k0 * d > n:  # clamped to the whole axis (WindowSpec.resolve)
        k0, d = n, 1
    s0 = rng.randint(1, k0)
    tiles = [1, 2, 3, 4, 8, 16, 32, 64, rng.randint(1, 64)]
    tq, tk = rng.choice(tiles), rng.choice(tiles)
    if rng.random() < 0.3:  # make perfect block-sparsity possible more often
        tk = tq
        n = max(n - n % (tq * d), tq * d)
        k0, s0 = min(k0, n // d), min(s0, k0)
        if k0 < 2:
            k0, s0, d = n, min(s0, n), 1
    return n, k0, s0, d, tq, tk


@pytest.mark.parametrize("seed", range(8))
def test_snap_axis_matches_the_quadratic_oracle_on_random_axes(seed):
    rng = random.Random(1000 + seed)
    for _ in range(150):
        case = _random_case(rng)
        assert snap_axis(*case) == _snap_axis_quadratic(*case), case


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 33, 64, 100, 128, 257, 300])
@pytest.mark.parametrize("tq, tk", [(1, 1), (1, 2), (2, 1), (3, 5), (8, 8), (16, 32), (64, 64), (64, 128), (7, 64)])
def test_snap_axis_matches_the_oracle_on_a_grid_of_cases(n, tq, tk):
    for d in sorted({1, 2, 3, max(1, n // 4)}):
        for k0 in sorted({2, 3, max(2, n // (3 * d)), max(2, n // d)}):
            if k0 * d > n:
                continue
            for s0 in sorted({1, max(1, k0 // 3), k0}):
                case = (n, k0, s0, d, tq, tk)
                assert snap_axis(*case) == _snap_axis_quadratic(*case), case


def test_snap_axis_keeps_the_known_answers():
    # From tests/recipe/test_scaling.py's shipped-recipe cases: flux_gna's 80x16 window on hopper
    # tiles at the tuned 256 stays; a one-tile axis becomes the whole axis.
    assert snap_axis(256, 80, 16, 1, 16, 16) == _snap_axis_quadratic(256, 80, 16, 1, 16, 16)
    assert snap_axis(40, 20, 4, 1, 64, 64) == (40, 1, 1)


@pytest.mark.parametrize("k0, s0, d, tq, tk", [
    (20480, 4096, 1, 128, 128),  # perfect block-sparsity possible: the lazy search
    (20480, 4096, 1, 64, 128),
    (2, 1, 1, 1, 1),  # 2**31 candidate pairs before
    (30001, 777, 1, 3, 7),  # not perfect: the closed-form aligned search (tiles 3 and 7)
    (1000, 999, 3, 1, 1),  # dilation 3: groups of 21846 and 21845
])
def test_snapping_a_max_axis_long_axis_is_bounded(k0, s0, d, tq, tk):
    # The quadratic list needed (65536 / tk) * (65536 / tq) / 2 pairs: a MemoryError (or hours).
    code = textwrap.dedent(f"""
        from na_accel.kernels.snapping import snap_axis
        from na_accel.recipe.scaling import MAX_AXIS
        from na_accel.kernels.tilecount import axis_tiles
        k, s, d = snap_axis(MAX_AXIS, {k0}, {s0}, {d}, {tq}, {tk})
        assert k * d <= MAX_AXIS and 1 <= s <= k and k % {tk} == 0 or (k, s, d) == (MAX_AXIS, 1, 1), (k, s, d)
        print(k, s, d)
    """)
    result = run_bounded_code(code, seconds=60, memory_bytes=3 * 2**30)
    assert result.returncode == 0, result.stderr[-2000:]
    assert MAX_AXIS == 65_536
