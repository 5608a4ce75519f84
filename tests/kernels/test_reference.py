"""The reference backend against hand-worked windows and a direct per-query loop."""

import itertools
import math

import pytest
import torch

from na_accel.windows import WindowSpec
from na_accel.windows import axis_neighborhood_mask
from na_accel.kernels.reference import reference_joint_attention


def neighbors(n, k, s, d, causal, i):
    return set(torch.nonzero(axis_neighborhood_mask(n, k, s, d, causal)[i]).flatten().tolist())


# (n, kernel, stride, dilation, causal, query, expected keys) worked out by hand.
HAND_CASES = [
    (7, 3, 1, 1, False, 0, {0, 1, 2}),  # border: window shifted inward
    (7, 3, 1, 1, False, 3, {2, 3, 4}),
    (7, 3, 1, 1, False, 6, {4, 5, 6}),
    (9, 4, 1, 1, False, 4, {2, 3, 4, 5}),  # even kernel: 2 left, 1 right
    (8, 4, 4, 1, False, 1, {0, 1, 2, 3}),  # stride group 0..3, leader 2
    (8, 4, 4, 1, False, 5, {4, 5, 6, 7}),  # stride group 4..7, leader 6
    (10, 3, 3, 1, False, 9, {7, 8, 9}),  # last group {9}: leader clamped to 9
    (8, 2, 1, 2, False, 0, {0, 2}),  # dilation group {0,2,4,6}
    (8, 2, 1, 2, False, 7, {5, 7}),  # dilation group {1,3,5,7}, right border
    (6, 3, 1, 1, True, 4, {2, 3, 4}),
    (6, 3, 1, 1, True, 0, {0}),
    (6, 3, 2, 1, True, 2, {1, 2}),  # stride group {2,3}: leader 3 -> keys >= 1, <= query
    (6, 3, 2, 1, True, 3, {1, 2, 3}),
]


@pytest.mark.parametrize("n,k,s,d,causal,i,expected", HAND_CASES)
def test_axis_mask_matches_hand_worked_windows(n, k, s, d, causal, i, expected):
    assert neighbors(n, k, s, d, causal, i) == expected


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


def test_axis_mask_matches_direct_per_query_rule():
    count = 0
    for n, k, s, d, causal in axis_configs():
        mask = axis_neighborhood_mask(n, k, s, d, causal)
        for i in range(n):
            assert set(torch.nonzero(mask[i]).flatten().tolist()) == natten_rule_neighbors(n, k, s, d, causal, i), (
                n, k, s, d, causal, i)
            count += 1
    assert count > 500


def test_non_causal_window_always_holds_kernel_keys():
    for n, k, s, d, causal in axis_configs():
        if not causal:
            assert axis_neighborhood_mask(n, k, s, d, False).sum(1).eq(k).all(), (n, k, s, d)


def loop_joint_attention(q, k, v, text_len, text_first, grid, window):
    """Attention one query at a time over an explicitly listed key set."""
    batch, seq, heads, dim = q.shape
    n_visual = math.prod(grid)
    coords = list(itertools.product(*(range(n) for n in grid)))
    visual_offset = text_len if text_first else 0
    text_positions = list(range(0, text_len)) if text_first else list(range(n_visual, seq))
    out = torch.empty_like(q)
    for pos in range(seq):
        if visual_offset <= pos < visual_offset + n_visual:
            qc = coords[pos - visual_offset]
            keys = list(text_positions)
            for kpos, kc in enumerate(coords):
                if all(
                    kc[a] in natten_rule_neighbors(
                        grid[a], window.kernel_size[a], window.stride[a], window.dilation[a],
                        window.is_causal[a], qc[a])
                    for a in range(len(grid))
                ):
                    keys.append(kpos + visual_offset)
        else:
            keys = list(range(seq))
        scores = torch.einsum("bhd,bkhd->bhk", q[:, pos], k[:, keys]) / math.sqrt(dim)
        out[:, pos] = torch.einsum("bhk,bkhd->bhd", scores.softmax(-1), v[:, keys])
    return out


@pytest.mark.parametrize(
    "grid,spec,text_len,text_first",
    [
        ((4, 5), WindowSpec((3, 2), (2, 1), (1, 2), (False, False)), 3, True),
        ((5, 3), WindowSpec((2, 3), (1, 3), (2, 1), (True, False)), 2, False),
        ((2, 3, 4), WindowSpec((2, 2, 3), (1, 2, 1), (1, 1, 1), (False, False, False)), 0, True),
    ],
)
def test_reference_attention_matches_per_query_loop(grid, spec, text_len, text_first):
    torch.manual_seed(0)
    window = spec.resolve(grid)
    seq = math.prod(grid) + text_len
    q, k, v = (torch.randn(2, seq, 2, 8, dtype=torch.float64) for _ in range(3))
    expected = loop_joint_attention(q, k, v, text_len, text_first, grid, window)
    actual = reference_joint_attention(q, k, v, text_len=text_len, text_first=text_first, window=window)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-6)


def test_reference_rejects_wrong_sequence_length():
    window = WindowSpec((3, 3), (1, 1), (1, 1), (False, False)).resolve((4, 4))
    q = torch.randn(1, 17, 1, 8)
    with pytest.raises(ValueError, match="sequence length 17"):
        reference_joint_attention(q, q, q, text_len=2, text_first=True, window=window)
