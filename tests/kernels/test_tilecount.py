"""Tests for na_accel.kernels.tilecount: per-axis tile counts against tiles cut from boolean masks."""

from __future__ import annotations

import random

import pytest

from na_accel.kernels.tilecount import axis_ranges, axis_tiles
from na_accel.windows import axis_neighborhood_mask
from helpers.window_oracles import axis_configs, natten_rule_neighbors, random_axis, tiles_from_mask


def counted(n, k, s, d, causal, tq, tk):
    tiles = axis_tiles(n, k, s, d, causal, tq, tk)
    return {"q_tiles": tiles.q_tiles, "kv_tiles": tiles.kv_tiles, "visited": tiles.visited, "full": tiles.full,
            "attended": tiles.attended, "padded": tiles.padded}


@pytest.mark.parametrize("seed", range(6))
def test_counts_match_tiles_cut_from_the_mask(seed):
    rng = random.Random(seed)
    for _ in range(60):
        n, k, s, d, causal = random_axis(rng, max_n=24)
        tq, tk = rng.randint(1, 9), rng.randint(1, 9)
        expected = tiles_from_mask(axis_neighborhood_mask(n, k, s, d, causal), d, tq, tk)
        assert counted(n, k, s, d, causal, tq, tk) == expected, (n, k, s, d, causal, tq, tk)


def test_counts_match_on_every_small_configuration_and_common_tiles():
    for n, k, s, d, causal in axis_configs():
        for tq, tk in [(1, 1), (2, 4), (4, 2), (3, 3), (8, 8)]:
            expected = tiles_from_mask(axis_neighborhood_mask(n, k, s, d, causal), d, tq, tk)
            assert counted(n, k, s, d, causal, tq, tk) == expected, (n, k, s, d, causal, tq, tk)


def test_hand_counted_cases():
    # n=8, k=4, s=4 on 4-token tiles: two blocked windows {0..3}, {4..7}: 2 visited pairs, both full.
    assert counted(8, 4, 4, 1, False, 4, 4) == dict(q_tiles=2, kv_tiles=2, visited=2, full=2, attended=32,
                                                    padded=False)
    # n=8, k=4, s=1 on 4-token tiles: q tile {0..3} sees keys 0..5 -> both kv tiles, none fully;
    # q tile {4..7} sees keys 2..7 -> both kv tiles, none fully.
    tiles = axis_tiles(8, 4, 1, 1, False, 4, 4)
    assert (tiles.visited, tiles.full, tiles.block_sparse) == (4, 0, False)
    # n=5 on 2-token tiles: the last tile of 1 token is padding, so nothing in it is full.
    padded = axis_tiles(5, 5, 1, 1, False, 2, 2)
    assert (padded.q_tiles, padded.kv_tiles, padded.visited, padded.full, padded.padded) == (3, 3, 9, 4, True)


def test_density_and_block_sparse_follow_the_counts():
    window = axis_tiles(12, 4, 4, 1, False, 4, 4)
    assert window.density == pytest.approx(12 * 4 / 144)
    assert window.block_sparse  # 3 blocked windows on 4-token tiles
    assert not axis_tiles(12, 4, 4, 1, True, 4, 4).block_sparse  # causal: triangular blocks


def test_ranges_are_the_rule_per_dilation_group():
    for n, k, s, d, causal in axis_configs():
        groups = axis_ranges(n, k, s, d, causal)
        assert len(groups) == d
        for g, (m, lo, hi) in enumerate(groups):
            members = list(range(g, n, d))
            assert m == len(members)
            for qi, i in enumerate(members):
                keys = {members[j] for j in range(lo[qi], hi[qi])}
                assert keys == natten_rule_neighbors(n, k, s, d, causal, i), (n, k, s, d, causal, i)
