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

import torch

from .base import Backend, DenseAttention, check_attention_inputs, sdpa_attention
from .call import GNACall
from .registry import get_backend


def gna_joint_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    call: GNACall,
    *,
    backend: Backend | str,
    dense_attention: DenseAttention = sdpa_attention,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """GNA over the visual grid(s) plus dense text attention, for one joint sequence.

    ``call`` (``na_accel.kernels.call.GNACall``) is the sequence's layout and windows: the
    ``call.window.grid`` visual tokens, then those of each ``call.extra_windows`` grid (reference
    images: each grid's queries see their own neighborhood, the valid text and every token of the
    other grids, ``na_accel.kernels.multi_grid``), and ``call.text_len`` text tokens, text first
    when ``call.text_first``. ``backend`` is a backend of ``na_accel.kernels`` (or its name);
    ``dense_attention`` runs the text queries (the model's own attention backend, so text rows are
    computed exactly as stock), with ``attention_mask``.

    ``call.text_valid_lens`` (one per batch row) marks padded text: in row b only the first
    ``text_valid_lens[b]`` text tokens are keys; ``attention_mask`` must then be the model's own
    key mask saying the same (HunyuanVideo builds both from ``encoder_attention_mask``).
    """
    check_attention_inputs(query, key, value)
    backend = get_backend(backend) if isinstance(backend, str) else backend
    return backend.joint_attention(query, key, value, call, dense_attention=dense_attention,
                                   attention_mask=attention_mask)


__all__ = ["gna_joint_attention", "sdpa_attention"]
