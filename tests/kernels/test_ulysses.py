"""The token bookkeeping of GNA under Ulysses (the all-to-alls run in tests/integration/test_context_parallel.py)."""

from __future__ import annotations

import pytest
import torch

from na_accel.kernels import GNACall
from na_accel.kernels.ulysses import UlyssesShards, joint_order, ulysses_joint_attention
from na_accel.windows import WindowSpec


def _rank_ordered(text: list[str], visual: list[str], degree: int, text_first: bool) -> list[str]:
    """What the all-to-all gathers: rank r's chunk of text and of visual tokens, rank after rank."""
    t, v = len(text) // degree, len(visual) // degree
    out = []
    for r in range(degree):
        chunk = (text[r * t:(r + 1) * t], visual[r * v:(r + 1) * v])
        out += chunk[0] + chunk[1] if text_first else chunk[1] + chunk[0]
    return out


@pytest.mark.parametrize("text_first", [True, False])
@pytest.mark.parametrize("degree, text_len, n_visual", [(2, 4, 6), (3, 3, 12), (4, 0, 8), (2, 2, 2)])
def test_joint_order_puts_rank_chunks_in_text_and_grid_order(text_first, degree, text_len, n_visual):
    text = [f"t{i}" for i in range(text_len)]
    visual = [f"v{i}" for i in range(n_visual)]
    gathered = _rank_ordered(text, visual, degree, text_first)
    call = GNACall(WindowSpec((1,), (1,), (1,), (False,)).resolve((n_visual,)), text_len, text_first)
    order = joint_order(call, degree, torch.device("cpu")).tolist()
    assert sorted(order) == list(range(text_len + n_visual))  # a permutation
    assert [gathered[i] for i in order] == (text + visual if text_first else visual + text)


def test_an_attention_mask_is_refused_under_ulysses():
    x = torch.zeros(1, 4, 2, 8)
    with pytest.raises(ValueError, match="text_valid_lens, not as an attention_mask"):
        ulysses_joint_attention(
            x, x, x, GNACall(WindowSpec((2,), (1,), (1,), (False,)).resolve((6,)), text_len=2),
            shards=UlyssesShards(group=None, degree=2), backend=None, dense_attention=None,
            attention_mask=torch.ones(1, 1, 1, 8, dtype=torch.bool),
        )


def test_a_context_parallel_config_without_ulysses_anything_is_read():
    """diffusers before 0.42 has no ContextParallelConfig.ulysses_anything: plain Ulysses there."""
    from types import SimpleNamespace

    from na_accel.kernels.ulysses import ulysses_shards

    cp = SimpleNamespace(ring_degree=1, ulysses_degree=2, _ulysses_mesh=SimpleNamespace(get_group=lambda: "group"))
    assert ulysses_shards(SimpleNamespace(context_parallel_config=cp)) == UlyssesShards("group", 2)
