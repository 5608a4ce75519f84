"""MiniMax-H3 (MiniMaxH3Transformer3DModel): one joint self attention over a packed video + audio + text sequence.

Token layout. The modular pipeline packs one request into one sequence and hands the transformer
its row indices: ``[text | conditions | target audio | target video]`` for every workflow
(t2va/fl2va: ``MiniMaxH3PrepareLayoutStep.build_packed_sequence``, conditions = keyframe frames;
ref2va: ``MiniMaxH3Ref2VAPrepareLayoutStep.build_ref2va_packed_sequence``, conditions = the
reference images, videos and soundtracks, on ``transformer_ref``). The generated video is the
tail: its rows are the trailing run of ``video_indices`` that ends the sequence, frame-major then
row-major (``patchify_video_latents``), and ``position_ids`` give each row its (t, h, w) rotary
coordinate: a frame is a run of equal t, a row a run of equal h. So the layout is ``TokenLayout(
grid, text_len=everything before the tail, text_first=True)``: text, conditioning frames and all
audio rows join as extra keys every video query attends, and compute their own rows densely; the
generated video's queries see their GNA neighborhood. The grid is read from ``video_indices`` and
``position_ids`` on the CPU (the pipeline builds them once per call: one device read each, cached),
and checked to be a row-major (frames, height, width) grid; anything else runs stock, counted.

What stays stock: the text refiner's attention (``token_refiner.refiner_blocks.<i>.attn``, the same
processor class over the text alone: not matched by ``layer_pattern``). There is no cross attention
and no mask (the processor's ``attention_mask`` is None from the blocks; one a caller passes is a
mask GNA can't read: stock, counted). Context parallelism splits the packed sequence as a whole
(``_cp_plan``), not text and video evenly: no Ulysses, those calls run stock, counted.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_minimax_h3 import (MiniMaxH3AttnProcessor,
                                                                   MiniMaxH3Transformer3DModel)

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec
from .read_cache import TensorReadCache


def video_tail_rows(video_indices: torch.Tensor, sequence_length: int) -> int | Refusal:
    """How many video rows end the packed sequence (the generated video), or why none do."""
    if video_indices.ndim != 1 or video_indices.numel() == 0:
        return Refusal(f"video_indices of shape {tuple(video_indices.shape)} are not (video rows,) positions")
    rows = video_indices.detach().cpu().to(torch.int64)
    if int(rows[-1]) != sequence_length - 1:
        return Refusal(f"the last video row sits at {int(rows[-1])}, not at the end of the {sequence_length}-row "
                       "packed sequence: the generated video is not its tail")
    breaks = torch.nonzero(rows[1:] - rows[:-1] != 1).flatten()
    start = int(breaks[-1]) + 1 if breaks.numel() else 0
    return rows.numel() - start


def tail_grid(position_ids: torch.Tensor, rows: int) -> tuple[int, int, int] | Refusal:
    """The (frames, height, width) grid of the last ``rows`` rows of the packed sequence, from their
    (t, h, w) rotary coordinates: frames are runs of equal t, grid rows runs of equal h, each frame the
    same row-major (h, w) grid; or why they don't form one."""
    if position_ids.ndim != 2 or position_ids.shape[1] != 3 or position_ids.shape[0] < rows:
        return Refusal(f"position_ids of shape {tuple(position_ids.shape)} are not (sequence rows, 3) (t, h, w)")
    t, h, w = position_ids[-rows:].detach().cpu().to(torch.float64).unbind(dim=1)
    per_frame = int(torch.count_nonzero(t == t[0]))
    if t[:per_frame].ne(t[0]).any() or rows % per_frame:
        return Refusal(f"the {rows} generated video rows' t positions don't split into frames of equal t")
    frames = rows // per_frame
    t, h, w = (x.view(frames, per_frame) for x in (t, h, w))
    width = int(torch.count_nonzero(h[0] == h[0, 0]))
    if h[0, :width].ne(h[0, 0]).any() or per_frame % width:
        return Refusal(f"the first video frame's {per_frame} rows don't split into grid rows of equal h")
    height = per_frame // width
    grid_h, grid_w = h[0].view(height, width), w[0].view(height, width)
    row_major = (
        bool((t == t[:, :1]).all()) and bool((t[1:, 0] > t[:-1, 0]).all())  # one t per frame, rising
        and bool((h == h[:1]).all()) and bool((w == w[:1]).all())  # every frame the same (h, w) grid
        and bool((grid_h == grid_h[:, :1]).all()) and bool((grid_h[1:, 0] > grid_h[:-1, 0]).all())
        and bool((grid_w == grid_w[:1]).all()) and bool((grid_w[0, 1:] > grid_w[0, :-1]).all())
    )
    if not row_major:
        return Refusal(f"the generated video's {rows} rows are not a row-major {frames}x{height}x{width} "
                       "(frames, height, width) grid of (t, h, w) positions")
    return frames, height, width


class MiniMaxH3Layout:
    """The generated video's grid at the tail of the packed sequence; everything before it (text,
    conditions, audio) as extra keys, first."""

    def __init__(self) -> None:
        # The pipeline builds the layout tensors once per call: each is read once.
        self._tail_rows = TensorReadCache(video_tail_rows)
        self._grid = TensorReadCache(tail_grid)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states, position_ids, video_indices = (
            inputs.get(k) for k in ("hidden_states", "position_ids", "video_indices"))
        if not all(isinstance(x, torch.Tensor) for x in (hidden_states, position_ids, video_indices)):
            return TokenLayout(None, 0, True, "forward called without hidden_states, position_ids or video_indices")
        if hidden_states.ndim != 3 or hidden_states.shape[1] != video_indices.numel():
            return TokenLayout(None, 0, True, f"hidden_states {tuple(hidden_states.shape)} are not (batch, "
                                              f"{video_indices.numel()} video rows, channels) as video_indices say")
        sequence_length = int(position_ids.shape[0])
        rows = self._tail_rows(video_indices, sequence_length)
        if isinstance(rows, Refusal):
            return TokenLayout(None, 0, True, rows)
        grid = self._grid(position_ids, rows)
        if isinstance(grid, Refusal):
            return TokenLayout(None, sequence_length - rows, True, grid)
        return TokenLayout(grid, sequence_length - rows, True)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=MiniMaxH3Transformer3DModel,
        pipeline_names=("MiniMaxH3ModularPipeline",),
        processors=(MiniMaxH3AttnProcessor,),
        token_layout=MiniMaxH3Layout,
    )
