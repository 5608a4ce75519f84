"""The reference backend against a direct per-query loop over explicitly listed keys."""

import itertools
import math

import pytest
import torch

from na_accel.windows import WindowSpec
from na_accel.kernels import GNACall
from na_accel.kernels.reference import reference_joint_attention
from helpers.window_oracles import natten_rule_neighbors


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
    actual = reference_joint_attention(q, k, v, GNACall(window, text_len, text_first))
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-6)


def test_reference_rejects_wrong_sequence_length():
    window = WindowSpec((3, 3), (1, 1), (1, 1), (False, False)).resolve((4, 4))
    q = torch.randn(1, 17, 1, 8)
    with pytest.raises(ValueError, match="sequence length 17"):
        reference_joint_attention(q, q, q, GNACall(window, text_len=2))
