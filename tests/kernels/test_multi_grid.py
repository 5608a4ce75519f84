"""GNA over several visual grids (reference images): every backend against the reference's one mask.

The reference builds one explicit mask over the whole layout (``windows.joint_attention_mask``);
NATTEN and the Triton kernel run the per-grid decomposition of ``kernels.multi_grid``. Fresh random
inputs, odd grids of different sizes, stride and dilation, text first and last, padded text of
different valid lengths in a batch of 2, two and three grids.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from na_accel.kernels import GNACall
from na_accel.kernels.joint import gna_joint_attention
from na_accel.windows import WindowSpec

# grids, kernel, stride, dilation, text tokens, text first, valid text lengths (batch 2)
CASES = [
    (((5, 7), (3, 4)), (3, 2), (2, 1), (1, 1), 6, True, None),  # Kontext-like: image + smaller reference
    (((4, 6), (5, 5)), (2, 3), (1, 2), (2, 1), 5, True, (5, 2)),  # dilation, padded text of two lengths
    (((3, 5), (6, 3), (4, 4)), (2, 2), (1, 1), (1, 1), 4, False, (1, 4)),  # three grids, text last
    (((2, 3, 4), (1, 3, 4)), (2, 2, 3), (1, 1, 2), (1, 1, 1), 3, False, None),  # video grids
]
IDS = ["two-grids", "dilation-padded", "three-grids-text-last", "3d"]


def _case(case, seed):
    grids, kernel, stride, dilation, text_len, text_first, lens = case
    spec = WindowSpec(kernel, stride, dilation, (False,) * len(kernel))
    windows = [spec.resolve(g) for g in grids]
    assert not any(w.covers_grid for w in windows)  # every neighborhood really masks
    generator = torch.Generator().manual_seed(seed)
    seq = sum(math.prod(g) for g in grids) + text_len
    q, k, v = (torch.randn(2, seq, 2, 16, generator=generator) for _ in range(3))
    key_mask = None
    if lens is not None:
        start = 0 if text_first else seq - text_len
        keep = torch.ones(2, seq, dtype=torch.bool)
        for row, n in enumerate(lens):
            keep[row, start + n:start + text_len] = False
        key_mask = keep[:, None, None, :]
    call = GNACall(windows[0], text_len, text_first, lens, tuple(windows[1:]))
    return (q, k, v), call, key_mask


@pytest.mark.parametrize("backend", ["flex-fna", "triton"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backends_match_the_reference_mask(case, backend):
    (q, k, v), call, mask = _case(case, seed=len(case[0]) + case[4])
    out = gna_joint_attention(q, k, v, call, backend=backend, attention_mask=mask)
    ref = gna_joint_attention(q, k, v, call, backend="reference", attention_mask=mask)
    assert out.shape == q.shape
    assert (out - ref).abs().max().item() <= 1e-5


def test_reference_grid_tokens_are_keys_of_the_generated_grid():
    """Changing only the reference grid's keys changes the generated grid's output (and the other way)."""
    (q, k, v), call, _ = _case(CASES[0], seed=1)
    out = gna_joint_attention(q, k, v, call, backend="flex-fna")
    k2 = k.clone()
    generated, reference = call.grid_slices
    k2[:, reference] += 1.0  # the reference grid's keys only
    out2 = gna_joint_attention(q, k2, v, call, backend="flex-fna")
    # every generated-grid query sees every reference token, however far
    assert ((out2[:, generated] - out[:, generated]).abs().amax(dim=(0, 2, 3)) > 1e-6).all()


def test_without_reference_grids_it_is_single_grid_gna():
    """The extra grids are not dropped: with them the generated grid differs from GNA on its own."""
    (q, k, v), call, _ = _case(CASES[0], seed=2)
    text_len, n0 = call.text_len, math.prod(call.window.grid)
    with_refs = gna_joint_attention(q, k, v, call, backend="reference")
    alone = gna_joint_attention(q[:, :text_len + n0], k[:, :text_len + n0], v[:, :text_len + n0],
                                replace(call, extra_windows=()), backend="reference")
    assert (with_refs[:, text_len:text_len + n0] - alone[:, text_len:]).abs().max().item() > 1e-3


def test_sequence_of_the_wrong_length_is_refused():
    (q, k, v), call, _ = _case(CASES[0], seed=3)
    with pytest.raises(ValueError, match="sequence length"):
        gna_joint_attention(q[:, 1:], k[:, 1:], v[:, 1:], call, backend="flex-fna")
