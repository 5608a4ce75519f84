"""FLUX.1 (dev, schnell, Kontext, and the FLUX fine-tunes ComfyUI loads as ``comfy.ldm.flux.model.Flux``).

The joint [text, image, reference images] sequence of every double and single block, text first
(``flipped_img_txt`` is off in FLUX): the image's (height, width) token grid is the latent
(B, C, H, W) in 2x2 patches; FLUX.1 Kontext's ``ref_latents`` follow it, one grid each, whatever
their ``ref_latents_method`` (it moves their position ids, not their tokens).
"""

from __future__ import annotations

from typing import Any

import torch

from ...families.base import TokenLayout
from ..family import BlockStack, ComfyFamily, patched_grid


def token_layout(model: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
    x, context = inputs.get("x"), inputs.get("context")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not isinstance(context, torch.Tensor):
        return TokenLayout(None, 0, True, "FLUX called without a (batch, channels, height, width) latent and a context")
    patch = (model.patch_size, model.patch_size)
    grid = patched_grid(tuple(x.shape[-2:]), patch)
    references = tuple(patched_grid(tuple(ref.shape[-2:]), patch) for ref in inputs.get("ref_latents") or ())
    return TokenLayout(grid, int(context.shape[1]), True, extra_grids=references)


COMFY_FLUX = ComfyFamily(
    name="flux",
    model_class="comfy.ldm.flux.model:Flux",
    blocks=(BlockStack("double_blocks", "transformer_blocks.{}.attn"),
            BlockStack("single_blocks", "single_transformer_blocks.{}.attn")),
    token_layout=token_layout,
    attention_shape=lambda model: (model.num_heads, model.hidden_size // model.num_heads),
    description="FLUX.1 dev / schnell / Kontext and fine-tunes (comfy.ldm.flux.model.Flux)",
)
