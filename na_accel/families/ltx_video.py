"""LTX-Video (LTXVideoTransformer3DModel; LTXPipeline, LTXImageToVideoPipeline, LTXConditionPipeline).

Each block has self attention over the video tokens (``transformer_blocks.<i>.attn1``) and cross
attention to the T5 text (``attn2``), both LTXVideoAttnProcessor; only attn1 is routed. The
pipelines hand the transformer packed tokens, (batch, tokens, channels), and the token grid as
``num_frames``, ``height`` and ``width`` (the grid the RoPE is built over, row-major).
LTXConditionPipeline (and the long multi-prompt image-to-video pipeline) pass ``video_coords``,
(batch, 3, tokens) RoPE coordinates (frame, row, column), which the RoPE then uses instead; the
condition pipeline puts the tokens of conditioning images / videos at later frames in front of
the generated grid. The grid is then read from the coordinates (once per tensor, one device
read): the longest run of whole frames at the end whose frame coordinate rises frame by frame,
whose (row, column) coordinates form the same row-major grid, and which starts at the earliest
frame and spans every token's rows and columns; the tokens before it join every video query's
keys as extra tokens (like text) and attend densely. Coordinates that form no such grid run the
call stock, counted.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers.models.transformers.transformer_ltx import LTXVideoAttnProcessor, LTXVideoTransformer3DModel

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec
from .family_types import is_int
from .read_cache import TensorReadCache


def packed_grid_sizes(inputs: dict[str, Any]) -> tuple[int, int, int] | str:
    """The (num_frames, height, width) forward arguments as ints, or why there are none."""
    sizes = tuple(inputs.get(name) for name in ("num_frames", "height", "width"))
    if any(n is None for n in sizes):
        given = "video_coords only" if inputs.get("video_coords") is not None else "no grid size"
        return f"forward called without num_frames, height and width ({given}): the token grid is unknown"
    if not all(is_int(n) and n >= 1 for n in sizes):
        return f"num_frames, height, width {sizes!r} are not positive ints"
    return tuple(int(n) for n in sizes)


def grid_from_coordinates(coords: torch.Tensor) -> tuple[tuple[int, int, int], int] | Refusal:
    """(grid, leading extra tokens) from LTXConditionPipeline's (batch, 3, tokens) ``video_coords``,
    or why they form no grid (see the module docstring). One device read."""
    if coords.ndim != 3 or coords.shape[1] != 3 or coords.shape[2] < 1:
        return Refusal(f"video_coords {tuple(coords.shape)} are not (batch, 3, tokens) coordinates")
    if not bool((coords == coords[:1]).all()):
        return Refusal("video_coords differ between batch rows")
    frame, row, column = coords[0].detach().to("cpu", torch.float64)
    tokens = frame.shape[0]
    same_frame = int((frame == frame[-1]).flip(0).cumprod(0).sum())  # trailing tokens in the last frame
    same_row = int(((frame == frame[-1]) & (row == row[-1])).flip(0).cumprod(0).sum())
    if same_frame % same_row:
        return Refusal("video_coords: the last frame is not whole rows")
    height, width = same_frame // same_row, same_row
    plane = torch.stack([row, column])[:, tokens - same_frame:]
    rows, columns = plane[0].view(height, width), plane[1].view(height, width)
    if not (bool((rows == rows[:, :1]).all()) and bool((columns == columns[:1]).all())
            and bool((rows[1:, 0] > rows[:-1, 0]).all()) and bool((columns[0, 1:] > columns[0, :-1]).all())):
        return Refusal("video_coords: the last frame's (row, column) coordinates are not a row-major grid")
    frames = 1
    while (start := tokens - (frames + 1) * same_frame) >= 0:
        chunk = slice(start, start + same_frame)
        if not (bool((frame[chunk] == frame[start]).all()) and frame[start] < frame[start + same_frame]
                and torch.equal(torch.stack([row[chunk], column[chunk]]), plane)):
            break
        frames += 1
    extra = tokens - frames * same_frame
    # the generated grid starts at the first frame and spans every token's rows and columns (conditioning
    # tokens: later frames, same size); a degenerate run (shuffled coordinates, a foreign layout) does not
    if not (frame[extra] == frame.min() and rows[0, 0] == row.min() and rows[-1, 0] == row.max()
            and columns[0, 0] == column.min() and columns[0, -1] == column.max()):
        return Refusal("video_coords: no row-major grid from the first frame spans the tokens' coordinates")
    return (frames, height, width), extra


class LTXVideoLayout:
    """The grid is (num_frames, height, width) as passed (LTX-Video's RoPE counts tokens with them);
    it must hold every token of ``hidden_states``. Where ``video_coords`` are passed (the RoPE then
    uses them), the grid and the conditioning tokens in front of it come from them."""

    def __init__(self) -> None:
        # LTXConditionPipeline builds video_coords once per generation: read once per tensor.
        self._from_coordinates = TensorReadCache(grid_from_coordinates)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states = inputs.get("hidden_states")
        if not isinstance(hidden_states, torch.Tensor) or hidden_states.ndim != 3:
            return TokenLayout(None, 0, False, "hidden_states is not a packed (batch, tokens, channels) tensor")
        coords = inputs.get("video_coords")
        if isinstance(coords, torch.Tensor):  # the RoPE's positions: they decide, not num_frames / height / width
            found = self._from_coordinates(coords)
            if isinstance(found, Refusal):
                return TokenLayout(None, 0, True, found)
            grid, extra = found
            if coords.shape[2] != hidden_states.shape[1]:
                return TokenLayout(None, 0, True, f"{hidden_states.shape[1]} video tokens but video_coords has "
                                                  f"{coords.shape[2]}")
            return TokenLayout(grid, extra, True)  # conditioning tokens in front: extra keys, dense rows
        grid = packed_grid_sizes(inputs)
        if isinstance(grid, str):
            return TokenLayout(None, 0, False, grid)
        if math.prod(grid) != hidden_states.shape[1]:
            return TokenLayout(None, 0, False, f"{hidden_states.shape[1]} video tokens but num_frames x height x "
                                               f"width is {grid} ({math.prod(grid)} tokens)")
        return TokenLayout(grid, 0, False)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=LTXVideoTransformer3DModel,
        pipeline_names=("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
        processors=(LTXVideoAttnProcessor,),
        token_layout=LTXVideoLayout,
    )
