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
import re
from typing import Any, Callable, Iterator

import torch
from diffusers.models.transformers.transformer_qwenimage import (
    QwenDoubleStreamAttnProcessor2_0,
    QwenImageTransformer2DModel,
    apply_rotary_emb_qwen,
)

from ..errors import Refusal
from .base import GNAProcessor, ModelAdapter, TokenLayout, forward_arguments, register_like_stock
from .read_cache import TensorReadCache
from .text_mask import prefix_lengths

LAYER_NAME = re.compile(r"transformer_blocks\.\d+\.attn")


class QwenImageAdapter(ModelAdapter):
    family = "qwen_image"
    transformer_class_name = "QwenImageTransformer2DModel"
    pipeline_names = ("QwenImagePipeline", "QwenImageImg2ImgPipeline", "QwenImageInpaintPipeline",
                      "QwenImageControlNetPipeline", "QwenImageControlNetInpaintPipeline", "QwenImageEditPipeline",
                      "QwenImageEditInpaintPipeline", "QwenImageEditPlusPipeline")

    def __init__(self) -> None:
        # Device reads (syncs), each once per mask tensor: the pipeline's encoder_hidden_states_mask
        # (the same tensor every step) in the forward hook, and the mask the forward hands every
        # block (one per forward) in the processors, shared by the layers.
        self._inputs_mask_reader = TensorReadCache(mask_prefix_lengths)
        self._mask_reader = TensorReadCache(prefix_lengths)

    def handles(self, transformer: torch.nn.Module) -> bool:
        return type(transformer) is QwenImageTransformer2DModel

    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        for name, module in transformer.named_modules():
            if LAYER_NAME.fullmatch(name):
                yield name, module

    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        processor = getattr(module, "processor", None)
        if type(processor) is QwenDoubleStreamAttnProcessor2_0:
            return None
        return (f"processor {type(processor).__name__} is not supported (GNA replaces "
                "QwenDoubleStreamAttnProcessor2_0 only; custom processors keep running as they are)")

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.attention_head_dim)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        inputs = forward_arguments(transformer, args, kwargs)
        hidden_states, text = inputs.get("hidden_states"), inputs.get("encoder_hidden_states")
        if not isinstance(hidden_states, torch.Tensor) or not isinstance(text, torch.Tensor):
            return TokenLayout(None, 0, True, "forward called without hidden_states or encoder_hidden_states")
        text_len = int(text.shape[1])
        grids = image_grids(inputs.get("img_shapes"))
        if isinstance(grids, Refusal):
            return TokenLayout(None, text_len, True, grids)
        if transformer.config.use_layer3d_rope:
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

    def make_processor(self, original: Any, route: Any) -> "GNAQwenDoubleStreamAttnProcessor":
        register_like_stock(GNAQwenDoubleStreamAttnProcessor, QwenDoubleStreamAttnProcessor2_0)
        return GNAQwenDoubleStreamAttnProcessor(original, route, self._mask_reader)


def image_grids(img_shapes: Any) -> tuple[tuple[int, int, int], ...] | Refusal:
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
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (batch, text_len):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        return Refusal(f"encoder_hidden_states_mask {shape} is not (batch, text tokens) = {(batch, text_len)}")
    lens = (read or mask_prefix_lengths)(mask)
    if lens is None:
        return Refusal("encoder_hidden_states_mask is not a valid prefix in every row (text padded other than on the "
                "right): GNA cuts right padding only")
    return lens


class GNAQwenDoubleStreamAttnProcessor(GNAProcessor):
    """QwenDoubleStreamAttnProcessor2_0 with GNA among image tokens; keeps the stock ``__call__``
    parameters. Projections, QK norms and RoPE are exactly the stock processor's."""

    def __init__(self, original: Any, route: Any, mask_reader: TensorReadCache) -> None:
        super().__init__(original, route)
        self.mask_reader = mask_reader

    def __call__(
        self,
        attn: torch.nn.Module,
        hidden_states: torch.FloatTensor,
        encoder_hidden_states: torch.FloatTensor = None,
        encoder_hidden_states_mask: torch.FloatTensor = None,
        attention_mask: torch.FloatTensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.FloatTensor:
        mask = encoder_hidden_states_mask
        if encoder_hidden_states is None or attention_mask is not None:
            # the stock processor refuses both with its own error
            call = self.route.dense("called without encoder_hidden_states or with an attention_mask")
        else:
            call = self._route(attn, hidden_states, encoder_hidden_states, mask)
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, mask, attention_mask, image_rotary_emb)

        # --- as QwenDoubleStreamAttnProcessor2_0, up to the attention call ---
        if mask is not None:
            image_mask = torch.ones(hidden_states.shape[:2], dtype=torch.bool, device=hidden_states.device)
            attention_mask = torch.cat([mask, image_mask], dim=1)[:, None, None, :]
        seq_txt = encoder_hidden_states.shape[1]
        head_dim = attn.inner_dim // attn.heads
        img_query, img_key, img_value = (
            proj(hidden_states).unflatten(-1, (-1, head_dim)) for proj in (attn.to_q, attn.to_k, attn.to_v)
        )
        txt_query, txt_key, txt_value = (
            proj(encoder_hidden_states).unflatten(-1, (-1, head_dim))
            for proj in (attn.add_q_proj, attn.add_k_proj, attn.add_v_proj)
        )
        if attn.norm_q is not None:
            img_query = attn.norm_q(img_query)
        if attn.norm_k is not None:
            img_key = attn.norm_k(img_key)
        if attn.norm_added_q is not None:
            txt_query = attn.norm_added_q(txt_query)
        if attn.norm_added_k is not None:
            txt_key = attn.norm_added_k(txt_key)
        if image_rotary_emb is not None:
            img_freqs, txt_freqs = image_rotary_emb
            img_query = apply_rotary_emb_qwen(img_query, img_freqs, use_real=False)
            img_key = apply_rotary_emb_qwen(img_key, img_freqs, use_real=False)
            txt_query = apply_rotary_emb_qwen(txt_query, txt_freqs, use_real=False)
            txt_key = apply_rotary_emb_qwen(txt_key, txt_freqs, use_real=False)
        joint_query = torch.cat([txt_query, img_query], dim=1)
        joint_key = torch.cat([txt_key, img_key], dim=1)
        joint_value = torch.cat([txt_value, img_value], dim=1)

        # --- GNA among image tokens + valid text; text rows dense with the stock mask ---
        joint_hidden_states = self._joint_attention(
            call, joint_query, joint_key, joint_value, attention_mask=attention_mask
        )

        # --- as QwenDoubleStreamAttnProcessor2_0, after the attention call ---
        joint_hidden_states = joint_hidden_states.flatten(2, 3).to(joint_query.dtype)
        txt_attn_output = joint_hidden_states[:, :seq_txt, :]
        img_attn_output = joint_hidden_states[:, seq_txt:, :]
        img_attn_output = attn.to_out[0](img_attn_output.contiguous())
        if len(attn.to_out) > 1:
            img_attn_output = attn.to_out[1](img_attn_output)
        txt_attn_output = attn.to_add_out(txt_attn_output.contiguous())
        return img_attn_output, txt_attn_output

    def _route(self, attn, hidden_states, encoder_hidden_states, mask) -> Any:
        """The route's decision; the layer's own text mask must say what the forward inputs said."""
        batch, n_image = hidden_states.shape[:2]
        text_len = encoder_hidden_states.shape[1]
        # The forward hands the layers a bool (batch, text) mask (read cached per tensor); any other
        # (a float one adds its values to the scores) runs stock.
        padding_shaped = mask is not None and tuple(mask.shape) == (batch, text_len) and mask.dtype == torch.bool
        mask_lens, foreign = self._padding_mask(mask, padding_shaped, lambda: self.mask_reader(mask))
        if mask is None:
            mask_lens = (text_len,) * batch  # no mask: every text token is a key (the inputs must agree)
        return self._route_call(attn, hidden_states, encoder_hidden_states, seq_len=n_image + text_len,
                                text_len=text_len, foreign_mask=foreign, mask_text_lens=mask_lens)
