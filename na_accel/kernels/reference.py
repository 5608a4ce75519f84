"""The ``reference`` backend: GNA as an explicit boolean mask over dense attention, the judge every
other backend is checked against. The masks (``na_accel.windows.masks``) are written from NATTEN's
documented semantics, independently of NATTEN's code. Runs anywhere, at small sizes only: its mask
and scores are (tokens)^2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Backend, BackendTarget
from .call import GNACall

if TYPE_CHECKING:
    import torch

REFERENCE = "reference"
# Largest joint sequence the reference accepts: its mask and scores are (tokens)^2.
MAX_REFERENCE_TOKENS = 16384


class ReferenceBackend(Backend):
    name = REFERENCE
    runs_anywhere = True
    borrows_auto_tiles = True  # it computes exactly what auto's backend would
    install_hint = f"{REFERENCE!r} runs anywhere at small sizes"

    def unavailable_reason(self, target: BackendTarget) -> str | None:
        return None

    def visual_attention(self, query, key, value, call):
        return reference_joint_attention(query, key, value, call)

    def joint_attention(self, query, key, value, call, *, dense_attention, attention_mask=None):
        # One explicit mask over the whole layout (reference grids included): the independent judge
        # of the per-grid decomposition the other backends run (``kernels.multi_grid``).
        return reference_joint_attention(query, key, value, call)


def reference_joint_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                              call: GNACall) -> torch.Tensor:
    """GNA joint attention by explicit mask. Inputs and output are [B, S, heads, head_dim].

    ``call.text_valid_lens``: per batch row, how many leading text tokens are real; the rest are
    padding, which no query attends to. ``call.extra_windows``: the grids of reference images that
    follow ``call.window.grid``'s tokens (``na_accel.windows.joint_attention_mask`` states the rule).
    """
    import torch
    import torch.nn.functional as F

    from ..windows import joint_attention_mask

    seq = query.shape[1]
    call.check_tokens(seq, "reference backend")
    if seq > MAX_REFERENCE_TOKENS:
        raise ValueError(
            f"reference backend: {seq} tokens exceed its limit of {MAX_REFERENCE_TOKENS} "
            "(it builds a tokens x tokens mask); use it at small sizes to verify a NATTEN backend"
        )
    mask = joint_attention_mask(call.text_len, call.text_first, call.window, device=query.device,
                                extra_windows=call.extra_windows)
    if call.text_valid_lens is not None:
        if len(call.text_valid_lens) != query.shape[0]:
            raise ValueError(f"reference backend: {len(call.text_valid_lens)} text lengths for a batch of "
                             f"{query.shape[0]}")
        text = call.text_slice
        position = torch.arange(call.text_len, device=query.device)
        valid = torch.tensor(list(call.text_valid_lens), device=query.device)[:, None] > position[None, :]
        key_ok = torch.ones(query.shape[0], seq, dtype=torch.bool, device=query.device)
        key_ok[:, text] = valid
        mask = mask[None, None] & key_ok[:, None, None, :]  # [B, 1, S, S]
    q, k, v = (t.transpose(1, 2).float() for t in (query, key, value))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out.transpose(1, 2).to(query.dtype)
