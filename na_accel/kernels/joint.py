"""The GNA joint-attention entry point shared by every model adapter.

Diffusion transformers attend over a joint sequence of text tokens and visual tokens (a row-major
token grid). Here:

* visual queries attend to their GNA neighborhood of visual tokens plus every VALID text token of
  their batch row;
* text queries attend to every (valid) token, exactly as in dense attention;
* with reference images (several visual grids), each grid's queries also see every token of the
  other grids (``multi_grid``).

Tensors use diffusers' processor layout ``[batch, tokens, heads, head_dim]``. The backend
(``na_accel.kernels``) decides how: NATTEN, na_accel's Triton kernel or the explicit-mask reference.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .base import Backend, DenseAttention, check_attention_inputs, sdpa_attention
from .registry import get_backend
from ..windows import ResolvedWindow


def gna_joint_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    text_len: int,
    text_first: bool,
    window: ResolvedWindow,
    backend: Backend | str,
    dense_attention: DenseAttention = sdpa_attention,
    text_valid_lens: Sequence[int] | None = None,
    attention_mask: torch.Tensor | None = None,
    extra_windows: Sequence[ResolvedWindow] = (),
) -> torch.Tensor:
    """GNA over the visual grid plus dense text attention, for one joint sequence.

    ``window.grid`` is the visual token grid; the sequence holds ``prod(grid)`` visual tokens and
    ``text_len`` text tokens, text first when ``text_first``. ``backend`` is a backend of
    ``na_accel.kernels`` (or its name); ``dense_attention`` runs the text queries (the model's own
    attention backend, so text rows are computed exactly as stock), with ``attention_mask``.

    ``text_valid_lens`` (one per batch row) marks padded text: in row b only the first
    ``text_valid_lens[b]`` text tokens are keys; ``attention_mask`` must then be the model's own
    key mask saying the same (HunyuanVideo builds both from ``encoder_attention_mask``).

    ``extra_windows``: one resolved window per reference-image grid whose tokens follow
    ``window.grid``'s; each grid's queries see their own neighborhood, the valid text and every
    token of the other grids (``na_accel.kernels.multi_grid``).
    """
    check_attention_inputs(query, key, value)
    backend = get_backend(backend) if isinstance(backend, str) else backend
    return backend.joint_attention(
        query, key, value, text_len=text_len, text_first=text_first, window=window,
        dense_attention=dense_attention, text_valid_lens=text_valid_lens, attention_mask=attention_mask,
        extra_windows=tuple(extra_windows),
    )


__all__ = ["gna_joint_attention", "sdpa_attention"]
