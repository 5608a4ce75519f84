"""Independent oracles for window tests (plain Python, written from NATTEN's docs, not na_accel's code).

* ``natten_rule_neighbors``: the keys one query sees along one axis, one query at a time;
* ``axis_configs``: small legal (n, kernel, stride, dilation, causal) cases to sweep;
* ``random_axis``: one random legal axis case;
* ``tiles_from_mask``: tile counts cut from a boolean [n, n] mask, tile by tile, as NATTEN's
  fused kernels tile an axis (each dilation group contiguous and tiled on its own, last tile padded).
"""

from __future__ import annotations

import itertools
import math


def natten_rule_neighbors(n, k, s, d, causal, i):
    """NATTEN's per-axis rule as written in its docs, one query at a time, in plain Python."""
    group, qi = i % d, i // d
    group_len = len(range(group, n, d))
    keys = set()
    for j in range(group, n, d):
        kj = j // d
        if causal:
            leader = min((qi // s) * s + s - 1, group_len - 1)
            ok = kj <= qi and leader - kj < k
        else:
            leader = min((qi // s) * s + s // 2, group_len - 1)
            left, right = k // 2, k // 2 + k % 2 - 1
            center = max(left, min(leader, group_len - 1 - right))
            ok = center - left <= kj <= center + right
        if ok:
            keys.add(j)
    return keys


def axis_configs():
    for n in (5, 6, 9, 12):
        for k, s, d in itertools.product((2, 3, 4, 5), (1, 2, 3), (1, 2)):
            if s <= k and k * d <= n:
                for causal in (False, True):
                    yield n, k, s, d, causal


def random_axis(rng, max_n=13):
    """(n, kernel, stride, dilation, causal) with 2 <= kernel, kernel * dilation <= n, stride <= kernel."""
    n = rng.randint(2, max_n)
    d = rng.choice([1, 1, 2, 3]) if n >= 4 else 1
    d = min(d, n // 2)
    k = rng.randint(2, n // d)
    return n, k, rng.randint(1, k), d, rng.random() < 0.25


def tiles_from_mask(mask, dilation, q_tile, kv_tile):
    """Tile counts of one axis, cut from its boolean [n, n] mask (``mask[i][j]``: query i sees key j).

    Returns a dict with q_tiles, kv_tiles, visited (pairs with any attended entry), full (visited
    pairs whose q and kv tiles are complete and whose every entry is attended), attended and padded.
    """
    n = len(mask)
    rows = [[bool(x) for x in row] for row in mask.tolist()] if hasattr(mask, "tolist") else mask

    def cut(tile):
        tiles = []
        for g in range(min(dilation, n)):
            members = list(range(g, n, dilation))
            tiles += [members[start:start + tile] for start in range(0, len(members), tile)]
        return tiles

    q_tiles, kv_tiles = cut(q_tile), cut(kv_tile)
    visited = full = 0
    for q in q_tiles:
        for kv in kv_tiles:
            block = [rows[i][j] for i in q for j in kv]
            if any(block):
                visited += 1
                if all(block) and len(q) == q_tile and len(kv) == kv_tile:
                    full += 1
    return {
        "q_tiles": len(q_tiles),
        "kv_tiles": len(kv_tiles),
        "visited": visited,
        "full": full,
        "attended": sum(map(sum, rows)),
        "padded": any(len(t) < q_tile for t in q_tiles) or any(len(t) < kv_tile for t in kv_tiles),
    }


def pair_count(grid, window):
    """Attended visual (query, key) pairs of ``window`` on ``grid``, from the per-query rule over
    every pair of N-D coordinates (no masks, no per-axis product)."""
    per_axis = [
        [natten_rule_neighbors(n, window.kernel_size[a], window.stride[a], window.dilation[a],
                               window.is_causal[a], i) for i in range(n)]
        for a, n in enumerate(grid)
    ]
    coords = list(itertools.product(*(range(n) for n in grid)))
    return sum(
        all(key[a] in per_axis[a][query[a]] for a in range(len(grid)))
        for query in coords
        for key in coords
    ), math.prod(grid) ** 2
