"""The exact meaning of a window (windows.masks): hand-worked windows and NATTEN's per-query rule."""

import itertools
import math

import pytest
import torch

from na_accel.windows import WindowSpec, axis_neighborhood_mask, joint_attention_mask, visual_neighborhood_mask
from helpers.window_oracles import axis_configs, natten_rule_neighbors


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


@pytest.mark.parametrize("grid, spec", [
    ((4, 5), WindowSpec((3, 2), (2, 1), (1, 2), (False, False))),
    ((5, 3), WindowSpec((2, 3), (1, 3), (2, 1), (True, False))),
    ((2, 3, 4), WindowSpec((2, 2, 3), (1, 2, 1), (1, 1, 1), (False, True, False))),
])
def test_visual_mask_is_the_rule_on_every_axis_in_row_major_order(grid, spec):
    window = spec.resolve(grid)
    mask = visual_neighborhood_mask(grid, window)
    coords = list(itertools.product(*(range(n) for n in grid)))  # row-major token order
    assert mask.shape == (len(coords), len(coords))
    for q, qc in enumerate(coords):
        expected = [
            all(kc[a] in natten_rule_neighbors(n, window.kernel_size[a], window.stride[a], window.dilation[a],
                                               window.is_causal[a], qc[a]) for a, n in enumerate(grid))
            for kc in coords
        ]
        assert mask[q].tolist() == expected, (qc, grid, spec)


@pytest.mark.parametrize("text_first", [True, False])
def test_joint_mask_lets_text_see_and_be_seen_by_everything(text_first):
    grid, text_len = (3, 4), 2
    window = WindowSpec((2, 2), (1, 1), (1, 1), (False, False)).resolve(grid)
    joint = joint_attention_mask(text_len, text_first, window)
    n = math.prod(grid)
    text = slice(0, text_len) if text_first else slice(n, n + text_len)
    visual = slice(text_len, n + text_len) if text_first else slice(0, n)
    assert joint.shape == (n + text_len, n + text_len)
    assert joint[text, :].all() and joint[:, text].all()
    assert torch.equal(joint[visual, visual], visual_neighborhood_mask(grid, window))
    assert not joint[visual, visual].all()  # the window really masks something


@pytest.mark.parametrize("text_first", [True, False])
def test_joint_mask_with_reference_grids_follows_the_multi_grid_rule(text_first):
    """Each grid's queries: own neighborhood + every token of the other grids + text (per token)."""
    text_len = 3
    windows = [WindowSpec((2, 3), (1, 2), (1, 1), (False, False)).resolve((3, 5)),
               WindowSpec((2, 2), (1, 1), (1, 1), (False, False)).resolve((4, 3)),
               WindowSpec((3,), (1,), (1,), (False,)).resolve((5,))]
    joint = joint_attention_mask(text_len, text_first, windows[0], extra_windows=tuple(windows[1:]))
    # Token -> (grid index or None for text, position inside the grid), in sequence order.
    owners = [(g, i) for g, w in enumerate(windows) for i in range(math.prod(w.grid))]
    text = [(None, t) for t in range(text_len)]
    tokens = text + owners if text_first else owners + text
    assert joint.shape == (len(tokens), len(tokens))
    for qi, (qg, qpos) in enumerate(tokens):
        for ki, (kg, kpos) in enumerate(tokens):
            if qg is None or kg is None or qg != kg:
                expected = True
            else:
                expected = bool(visual_neighborhood_mask(windows[qg].grid, windows[qg])[qpos, kpos])
            assert bool(joint[qi, ki]) == expected, (qi, ki)
    assert not joint.all()


@pytest.mark.parametrize("grid,kernel,stride,dilation,causal", [
    ((7, 9), (3, 5), (2, 1), (1, 2), (False, False)),
    ((4, 5, 6), (3, 3, 4), (1, 2, 3), (1, 1, 1), (True, False, False)),
    ((1, 6, 5), (1, 3, 5), (1, 2, 1), (1, 1, 1), (False, False, False)),
])
def test_neighborhood_rows_are_rows_of_the_full_mask(grid, kernel, stride, dilation, causal):
    from na_accel.windows.masks import neighborhood_rows

    window = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
    full = visual_neighborhood_mask(grid, window)
    rows = torch.randperm(full.shape[0], generator=torch.Generator().manual_seed(0))[:11]
    assert torch.equal(neighborhood_rows(grid, window, rows), full[rows])
