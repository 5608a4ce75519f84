"""LTX-Video (0.9.x, 2B and 13B, and the fine-tunes ComfyUI loads as ``comfy.ldm.lightricks.model.LTXVModel``).

Each ``transformer_blocks`` block calls attention twice: ``attn1``, self attention over the video
tokens (never given a mask), then ``attn2``, cross attention to the T5 text (masked by the text's
padding mask where the conditioning has one); only ``attn1``, the first call, is routed. The latent
(B, 128, F, H, W) is cut into 1x1x1 patches (``SymmetricPatchifier(1)``), tokens row-major
(frame, row, column): an (F, H, W) grid.

Keyframe guides (LTXVAddGuide) are whole latent frames appended after the video's frames, their
RoPE positions (``keyframe_idxs``, one per token) those of the frames they guide: the last
``keyframe_idxs.shape[2]`` tokens. They are not on the video's grid: as in the diffusers families,
they join every video query's keys as extra tokens (like text, after the grid) and attend densely
themselves. Image-to-video (LTXVImgToVideo) and in-place guide frames replace latent frames (a
denoise mask): the same tokens, the same grid.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ...families.base import TokenLayout
from ..family import BlockStack, ComfyFamily, patched_grid


def token_layout(model: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
    x = inputs.get("x")
    if not isinstance(x, torch.Tensor) or x.ndim != 5:
        return TokenLayout(None, 0, False, "LTXV called without a (batch, channels, frames, height, width) latent")
    frames, height, width = patched_grid(tuple(x.shape[2:]), tuple(model.patchifier.patch_size))
    keyframes = inputs.get("keyframe_idxs")
    if keyframes is None:
        return TokenLayout((frames, height, width), 0, False)
    if not isinstance(keyframes, torch.Tensor) or keyframes.ndim != 3:
        return TokenLayout(None, 0, False, "keyframe_idxs is not a (batch, 3, tokens) tensor of positions")
    guides, plane = int(keyframes.shape[2]), height * width
    if guides % plane or guides >= math.prod((frames, height, width)):
        return TokenLayout(None, 0, False, f"{guides} keyframe tokens are not whole {height}x{width} frames at the end "
                                           f"of the {frames}-frame latent")
    return TokenLayout((frames - guides // plane, height, width), guides, False)  # guides: extra keys after the grid


def attention_shape(model: torch.nn.Module) -> tuple[int, int]:
    attention = model.transformer_blocks[0].attn1
    return int(attention.heads), int(attention.dim_head)


COMFY_LTX_VIDEO = ComfyFamily(
    name="ltx_video",
    model_class="comfy.ldm.lightricks.model:LTXVModel",
    blocks=(BlockStack("transformer_blocks", "transformer_blocks.{}.attn1"),),
    token_layout=token_layout,
    attention_shape=attention_shape,
    self_attention_call=0,  # attn1; attn2 (cross attention to the text) runs stock, uncounted
    description="LTX-Video 0.9.x 2B / 13B and fine-tunes (comfy.ldm.lightricks.model.LTXVModel)",
)
