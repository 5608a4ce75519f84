"""The GNA joint-attention core on NATTEN against the explicit-mask reference."""

import math

import pytest
import torch

from na_accel.kernels import GNACall
from na_accel.kernels.joint import gna_joint_attention, sdpa_attention
from na_accel.windows import WindowSpec

# grid, kernel, stride, dilation, causal, text_len, text_first, batch
CASES = [
    ((5, 7), (3, 4), (2, 3), (1, 1), (False, False), 8, True, 2),  # odd grid, even kernel, strides
    ((8, 6), (3, 2), (1, 2), (2, 3), (False, False), 4, True, 1),  # dilation on both axes
    ((9, 6), (5, 3), (4, 3), (1, 2), (False, False), 3, False, 2),  # text after the visual tokens
    ((6, 5), (4, 3), (2, 1), (1, 1), (True, False), 5, True, 2),  # causal along one axis
    ((6, 7), (4, 4), (1, 1), (1, 1), (False, False), 0, True, 2),  # no text tokens
    ((1, 9), (4, 4), (2, 2), (1, 1), (False, False), 4, True, 2),  # axis of length 1 (dropped)
    ((3, 10), (8, 3), (4, 1), (1, 3), (False, False), 6, True, 1),  # axis clamped to the grid
    ((2, 3, 6), (2, 2, 3), (1, 2, 2), (1, 1, 2), (False, False, False), 5, False, 2),  # 3-D grid
]


@pytest.mark.parametrize("grid,kernel,stride,dilation,causal,text_len,text_first,batch", CASES)
def test_natten_matches_reference(grid, kernel, stride, dilation, causal, text_len, text_first, batch):
    torch.manual_seed(hash((grid, kernel, text_len)) % 1000)
    window = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
    assert not window.covers_grid  # the neighborhood kernel must really run
    seq = math.prod(grid) + text_len
    q, k, v = (torch.randn(batch, seq, 2, 16) for _ in range(3))
    call = GNACall(window, text_len, text_first)
    natten_out = gna_joint_attention(q, k, v, call, backend="flex-fna")
    reference_out = gna_joint_attention(q, k, v, call, backend="reference")
    assert natten_out.shape == q.shape
    assert (natten_out - reference_out).abs().max().item() <= 1e-5
    # ...and the window matters: sparse output differs from dense attention
    assert (natten_out - sdpa_attention(q, k, v)).abs().max().item() > 1e-3


def test_single_visual_token_sees_itself_and_text():
    window = WindowSpec((2, 2), (1, 1), (1, 1), (False, False)).resolve((1, 1))
    q, k, v = (torch.randn(2, 4, 2, 16) for _ in range(3))
    out = gna_joint_attention(q, k, v, GNACall(window, text_len=3), backend="flex-fna")
    torch.testing.assert_close(out, sdpa_attention(q, k, v), atol=1e-6, rtol=1e-6)


def test_full_window_equals_dense_attention():
    window = WindowSpec((5, 7), (1, 1), (1, 1), (False, False)).resolve((5, 7))
    assert window.covers_grid
    q, k, v = (torch.randn(2, 35 + 6, 2, 16) for _ in range(3))
    out = gna_joint_attention(q, k, v, GNACall(window, text_len=6), backend="flex-fna")
    assert (out - sdpa_attention(q, k, v)).abs().max().item() <= 1e-5
