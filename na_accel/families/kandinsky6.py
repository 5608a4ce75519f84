"""Kandinsky 6 (Kandinsky6Transformer3DModel; Kandinsky6TI2VAPipeline: text / image to video and audio).

Each fused block (``visual_transformer_blocks.<i>``) holds a video decoder block and an audio one:
video self attention over the video tokens alone (``video_dec_block.self_attention``), cross
attention to the text (``video_dec_block.cross_attention``, with the text padding mask), the same
two for audio, and video <-> audio cross attention (``va_cross_attention``, ``av_cross_attention``);
the text goes through its own encoder blocks first. Only the video self attention is routed: its
tokens are the (B, T, H, W, C) latent divided by ``config.patch_size``, row-major (frames, height,
width), no mask. Every other attention (text, audio self attention over a 1D sequence, the cross
attentions) stays stock. Image to video appends the reference image as a last latent frame (token
type 1, temporal RoPE position 0): it becomes a reference grid (``extra_grids``), attended whole by
every video query, its own queries seeing their window in it plus every video token.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_kandinsky6 import (
    Kandinsky6AttnProcessor,
    Kandinsky6Transformer3DModel,
)

from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec


class Kandinsky6Layout:
    """The video grid of the (B, T, H, W, C) latent; trailing frames of token type != 0 (the
    reference image of image to video) as reference grids of one frame each."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        latent = inputs.get("hidden_states")
        if not isinstance(latent, torch.Tensor) or latent.ndim != 5:
            shape = tuple(latent.shape) if isinstance(latent, torch.Tensor) else type(latent).__name__
            return TokenLayout(None, 0, False, f"hidden_states {shape} is not a (batch, frames, height, width, "
                                               "channels) video latent")
        patch = tuple(int(p) for p in transformer.config.patch_size)
        sizes = tuple(latent.shape[1:4])
        if any(n % p for n, p in zip(sizes, patch)):
            return TokenLayout(None, 0, False, f"latent (frames, height, width) {sizes} is not a multiple of the "
                                               f"patch size {patch}")
        frames, height, width = (n // p for n, p in zip(sizes, patch))
        types = inputs.get("visual_token_type_ids")
        if types is None:
            return TokenLayout((frames, height, width), 0, False)
        rows = {tuple(row) for row in types.tolist()}  # one device read per forward: (batch, frames) ids
        if len(rows) != 1 or len(next(iter(rows))) != frames:
            return TokenLayout(None, 0, False, "visual_token_type_ids differ between rows or are not one per "
                                               "latent frame")
        row = next(iter(rows))
        video = next((i for i, kind in enumerate(row) if kind != 0), frames)
        if video == 0 or any(kind == 0 for kind in row[video:]):
            return TokenLayout(None, 0, False, f"visual_token_type_ids {list(row)}: not video frames (type 0) "
                                               "followed by reference frames")
        reference = ((1, height, width),) * (frames - video)
        return TokenLayout((video, height, width), 0, False, extra_grids=reference)


class Kandinsky6Adapter(ModelAdapter):
    """Kandinsky 6's config names its video width ``model_dim``, in heads of ``sum(axes_dims)``."""

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(sum(transformer.config.axes_dims))

    def heads(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.model_dim) // self.head_dim(transformer)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return Kandinsky6Adapter(
        spec,
        transformer_class=Kandinsky6Transformer3DModel,
        pipeline_names=("Kandinsky6TI2VAPipeline",),
        # video self attention only: text, audio and cross-modal attention stay stock
        processors=(Kandinsky6AttnProcessor,),
        token_layout=Kandinsky6Layout,
    )
