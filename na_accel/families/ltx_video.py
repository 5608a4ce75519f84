"""LTX-Video (LTXVideoTransformer3DModel; LTXPipeline, LTXImageToVideoPipeline, LTXConditionPipeline).

Each block has self attention over the video tokens (``transformer_blocks.<i>.attn1``) and cross
attention to the T5 text (``attn2``), both LTXVideoAttnProcessor; only attn1 is routed. The
pipelines hand the transformer packed tokens, (batch, tokens, channels), and the token grid as
``num_frames``, ``height`` and ``width`` (the grid the RoPE is built over, row-major). Where they
are not given (LTXConditionPipeline passes ``video_coords`` only, with conditioning tokens of other
videos prepended) the grid is unknown and every layer of that call runs stock, counted.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers.models.transformers.transformer_ltx import LTXVideoAttnProcessor, LTXVideoTransformer3DModel

from .base import ModelAdapter, TokenLayout
from .family_types import is_int


def packed_grid_sizes(inputs: dict[str, Any]) -> tuple[int, int, int] | str:
    """The (num_frames, height, width) forward arguments as ints, or why there are none."""
    sizes = tuple(inputs.get(name) for name in ("num_frames", "height", "width"))
    if any(n is None for n in sizes):
        given = "video_coords only" if inputs.get("video_coords") is not None else "no grid size"
        return f"forward called without num_frames, height and width ({given}): the token grid is unknown"
    if not all(is_int(n) and n >= 1 for n in sizes):
        return f"num_frames, height, width {sizes!r} are not positive ints"
    return tuple(int(n) for n in sizes)


class LTXVideoLayout:
    """The grid is (num_frames, height, width) as passed (LTX-Video's RoPE counts tokens with them);
    it must hold every token of ``hidden_states``."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states = inputs.get("hidden_states")
        if not isinstance(hidden_states, torch.Tensor) or hidden_states.ndim != 3:
            return TokenLayout(None, 0, False, "hidden_states is not a packed (batch, tokens, channels) tensor")
        grid = packed_grid_sizes(inputs)
        if isinstance(grid, str):
            return TokenLayout(None, 0, False, grid)
        if math.prod(grid) != hidden_states.shape[1]:
            return TokenLayout(None, 0, False, f"{hidden_states.shape[1]} video tokens but num_frames x height x "
                                               f"width is {grid} ({math.prod(grid)} tokens)")
        return TokenLayout(grid, 0, False)


def adapter() -> ModelAdapter:
    return ModelAdapter(
        family="ltx_video",
        transformer_class=LTXVideoTransformer3DModel,
        pipeline_names=("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
        layer_pattern=r"transformer_blocks\.\d+\.attn1",  # attn2 (cross attention to text) is never touched
        processors=(LTXVideoAttnProcessor,),
        token_layout=LTXVideoLayout,
    )
