"""The work the cost model prices: counted against tiles cut from the explicit neighborhood mask."""

from __future__ import annotations

import itertools
import math

import pytest

from na_accel.kernels.triton_tiles import window_tiles
from na_accel.speed.problem import AttentionProblem, sparse_work
from na_accel.windows import WindowSpec
from na_accel.windows.masks import visual_neighborhood_mask

CASES = [  # grid, kernel, stride, text
    ((12, 20), (5, 7), (1, 1), 6),
    ((16, 16), (8, 8), (4, 4), 0),
    ((9, 13), (9, 5), (3, 2), 3),
    ((3, 10, 12), (2, 4, 6), (1, 2, 3), 5),
]


def _window(grid, kernel, stride):
    rank = len(grid)
    return WindowSpec(kernel_size=kernel, stride=stride, dilation=(1,) * rank, is_causal=(False,) * rank).resolve(grid)


def _pairs_from_mask(grid, window, q_tile, kv_tile):
    """(full, partial) (q tile, kv tile) pairs of box tiles over ``grid``, cut from the explicit mask:
    a pair is visited when any query of the q tile sees any key of the kv tile, full when every
    query sees every key and neither tile is cut by the grid's border."""
    mask = visual_neighborhood_mask(grid, window)
    q_tile, kv_tile = q_tile[-len(grid):], kv_tile[-len(grid):]
    coords = list(itertools.product(*(range(n) for n in grid)))

    def tiles_of(tile):
        groups = {}
        for index, c in enumerate(coords):
            groups.setdefault(tuple(x // t for x, t in zip(c, tile)), []).append(index)
        return list(groups.values())

    full = partial = 0
    for q in tiles_of(q_tile):
        for k in tiles_of(kv_tile):
            block = mask[q][:, k]
            if block.any():
                complete = len(q) == math.prod(q_tile) and len(k) == math.prod(kv_tile)
                if block.all() and complete:
                    full += 1
                else:
                    partial += 1
    return full, partial


@pytest.mark.parametrize("grid,kernel,stride,text", CASES)
def test_triton_work_matches_the_explicit_mask(grid, kernel, stride, text):
    window = _window(grid, kernel, stride)
    problem = AttentionProblem((window,), text, batch=2, heads=3, head_dim=64, element_size=2)
    work = sparse_work(problem, "triton")
    tiles = window_tiles(window, text, 64, 2, None)
    full, partial = _pairs_from_mask(grid, window, tiles.q_tile, tiles.kv_tile)
    per_score = 4.0 * 2 * 3 * 64
    scores = tiles.block_m * tiles.block_n
    assert work.partial_flops == per_score * partial * scores
    assert work.full_flops == per_score * (full * scores + tiles.q_tiles * tiles.block_m * text)
    assert work.text_query_flops == per_score * text * (math.prod(grid) + text)


def test_a_full_window_is_dense_work():
    grid = (6, 10)
    window = _window(grid, grid, (1, 1))
    problem = AttentionProblem((window,), 4, batch=1, heads=2, head_dim=32)
    work = sparse_work(problem, "triton")
    assert work.partial_flops == 0
    assert work.full_flops + work.text_query_flops == pytest.approx(problem.dense_flops())


def test_reference_images_are_dense_extra_keys():
    own, ref = _window((8, 8), (3, 3), (1, 1)), _window((4, 4), (3, 3), (1, 1))
    alone = sparse_work(AttentionProblem((own,), 5, 1, 1, 16), None)
    both = sparse_work(AttentionProblem((own, ref), 5, 1, 1, 16), None)
    mask_pairs = int(visual_neighborhood_mask((8, 8), own).sum()) + int(visual_neighborhood_mask((4, 4), ref).sum())
    # element-wise (no tiles): attended pairs, plus every query against text and the other grid
    assert both.full_flops == 4 * 16 * (mask_pairs + 64 * (5 + 16) + 16 * (5 + 64))
    assert alone.full_flops < both.full_flops


def test_dense_flops():
    problem = AttentionProblem((_window((4, 6), (3, 3), (1, 1)),), 8, batch=2, heads=3, head_dim=16)
    assert problem.tokens == 32 and problem.dense_flops() == 4 * 2 * 3 * 32 * 32 * 16
    assert problem.rows == 6


def test_triton_work_counts_the_tiles_of_the_profiles_device():
    """An A100's profile counts the 128 x 64 tiles the launcher picks there (the pre-Hopper register
    cap), an H100's the 128 x 128 ones: the same window, different work."""
    window = WindowSpec((80, 80), (16, 16), (1, 1), (False, False)).resolve((256, 256))
    hopper = window_tiles(window, 512, 128, 2, 232448, 90)
    ampere = window_tiles(window, 512, 128, 2, 166912, 80)
    assert (hopper.block_m, hopper.block_n) == (128, 128) and ampere.block_m * ampere.block_n == 128 * 64
