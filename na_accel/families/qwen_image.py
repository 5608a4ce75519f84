"""Qwen-Image (QwenImageTransformer2DModel; QwenImagePipeline, its img2img / inpaint / ControlNet
pipelines and the edit pipelines). Not Qwen-Image-Layered (its img_shapes are layers: runs stock).

Every block (``transformer_blocks.<i>.attn``, QwenDoubleStreamAttnProcessor2_0) attends over the
joint sequence [text, image]; there are no other attention layers. Token layout: text first, then
the image tokens, a row-major (height, width) grid of 2x2-packed latents (1024x1024 pixels -> 64x64
tokens) read from the forward kwarg ``img_shapes`` (per batch row, a list of (frames, height, width)
in tokens: the generated image first, then any reference images the edit pipelines append). Each
reference image is a grid of its own (``TokenLayout.extra_grids``): its queries see their own
neighborhood, and every grid's queries see all tokens of the other grids (README, "Reference images").

The text is right-padded to the batch's longest prompt; ``encoder_hidden_states_mask`` marks the
valid tokens (the pipeline passes None when no row is padded) and the stock processor masks the
padding out as keys. GNA keeps that: image queries see their neighborhood plus the valid text of
their row; text queries attend to every valid token with the stock mask. The stock mask "can have
any pattern"; GNA handles valid prefixes (right padding) only: any other pattern runs stock, counted.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import torch
from diffusers.models.transformers.transformer_qwenimage import (
    QwenDoubleStreamAttnProcessor2_0,
    QwenImageTransformer2DModel,
)

from ..errors import Refusal
from .base import ModelAdapter, PaddingMask, TokenLayout
from .family_types import FamilySpec
from .read_cache import TensorReadCache
from .text_mask import prefix_lengths


class QwenImageLayout:
    """[text, image]: the grids from ``img_shapes``, the valid text from ``encoder_hidden_states_mask``."""

    def __init__(self) -> None:
        # The pipeline's encoder_hidden_states_mask is the same tensor every step: read once.
        self._inputs_mask_reader = TensorReadCache(mask_prefix_lengths)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states, text = inputs.get("hidden_states"), inputs.get("encoder_hidden_states")
        if not isinstance(hidden_states, torch.Tensor) or not isinstance(text, torch.Tensor):
            return TokenLayout(None, 0, True, "forward called without hidden_states or encoder_hidden_states")
        text_len = int(text.shape[1])
        grids = grids_from_img_shapes(inputs.get("img_shapes"))
        if isinstance(grids, Refusal):
            return TokenLayout(None, text_len, True, grids)
        if getattr(transformer.config, "use_layer3d_rope", False):  # diffusers >= 0.37
            return TokenLayout(None, text_len, True, "Qwen-Image-Layered (use_layer3d_rope): its img_shapes are "
                               "the layers of one picture, a layout GNA does not handle")
        tokens = sum(math.prod(g) for g in grids)
        if hidden_states.shape[1] != tokens:
            return TokenLayout(None, text_len, True, f"{hidden_states.shape[1]} image tokens but img_shapes "
                               f"{[list(g) for g in grids]} describe {tokens}")
        valid = text_valid_lens(inputs.get("encoder_hidden_states_mask"), hidden_states.shape[0], text_len,
                                self._inputs_mask_reader)
        if isinstance(valid, Refusal):
            return TokenLayout(None, text_len, True, valid)
        # the generated image, then the edit pipelines' reference images (their own grids)
        first, *references = (grid[1:] for grid in grids)
        return TokenLayout(first, text_len, True, text_valid_lens=valid, extra_grids=tuple(references))


def grids_from_img_shapes(img_shapes: Any) -> tuple[tuple[int, int, int], ...] | Refusal:
    """The (frames, height, width) token grids of one batch row, in token order, or why there are none.

    Read as the stock RoPE reads ``img_shapes`` (a list of rows, each a list of shapes or one
    shape); the stock model uses row 0's for every row, so rows that differ have no one layout.
    """
    if img_shapes is None:
        return Refusal("forward called without img_shapes")
    rows = img_shapes if isinstance(img_shapes, list) else [img_shapes]
    if not rows:
        return Refusal("img_shapes is an empty list")
    shapes = [[tuple(s) if isinstance(s, (tuple, list)) else s for s in (row if isinstance(row, list) else [row])]
              for row in rows]
    if any(row != shapes[0] for row in shapes[1:]):
        return Refusal(f"img_shapes differ between batch rows ({shapes}); the stock RoPE takes row 0's for every row")
    grids = []
    for shape in shapes[0]:
        if not (isinstance(shape, (tuple, list)) and len(shape) == 3
                and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in shape)):
            return Refusal(f"img_shapes entry {shape!r} is not (frames, height, width) positive ints")
        grids.append(tuple(int(n) for n in shape))
    if any(frames != 1 for frames, _, _ in grids):
        return Refusal(f"img_shapes {[list(g) for g in grids]} has a grid of several frames; GNA runs one-frame "
                "(height, width) grids")
    return tuple(grids)


def mask_prefix_lengths(mask: torch.Tensor) -> tuple[int, ...] | None:
    """``prefix_lengths`` of a mask of any dtype, read as the stock forward reads it (nonzero = valid)."""
    return prefix_lengths(mask.bool())


def text_valid_lens(mask: Any, batch: int, text_len: int,
                    read: Callable[[torch.Tensor], tuple[int, ...] | None] | None = None
                    ) -> tuple[int, ...] | None | Refusal:
    """Per row, how many leading text tokens ``encoder_hidden_states_mask`` marks valid (None: no
    mask, all valid), or why the mask is not a right-padding mask GNA can honour."""
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor) and mask.ndim == 2 and mask.shape[0] == 1 < batch:
        mask = mask.expand(batch, -1)  # one mask for every row (diffusers 0.36's negative prompt)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (batch, text_len):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        return Refusal(f"encoder_hidden_states_mask {shape} is not (batch, text tokens) = {(batch, text_len)}")
    lens = (read or mask_prefix_lengths)(mask)
    if lens is None:
        return Refusal("encoder_hidden_states_mask is not a valid prefix in every row (text padded other than on the "
                "right): GNA cuts right padding only")
    return lens


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=QwenImageTransformer2DModel,
        pipeline_names=("QwenImagePipeline", "QwenImageImg2ImgPipeline", "QwenImageInpaintPipeline",
                        "QwenImageControlNetPipeline", "QwenImageControlNetInpaintPipeline", "QwenImageEditPipeline",
                        "QwenImageEditInpaintPipeline", "QwenImageEditPlusPipeline"),
        processors=(QwenDoubleStreamAttnProcessor2_0,),
        token_layout=QwenImageLayout,
        # the forward's bool (B, text) mask, handed to every block; a float one adds its values to the
        # scores (not padding): stock, counted
        padding_mask=PaddingMask("encoder_hidden_states_mask", "text", bool_only=True),
    )
