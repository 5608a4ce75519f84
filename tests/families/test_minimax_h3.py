"""MiniMax-H3: the generated video is the tail of one packed [text | conditions | audio | video]
sequence; everything before it joins as extra keys (tiny random-weight transformer, float32, CPU).

Sparse results are checked against the explicit-mask reference backend, full windows against the
stock model; layouts GNA can't read run stock, counted with the reason.
"""

from __future__ import annotations

import math

import pytest
import torch
from diffusers.models.transformers.transformer_minimax_h3 import MiniMaxH3AttnProcessor

import na_accel
from na_accel import tiny
from na_accel.families import adapter_for
from na_accel.kernels import BACKENDS, BackendTarget
from na_accel.runtime.seam import routed_class

TOLERANCE = 1e-5
GRID = (3, 4, 5)
TEXT = 6
SPARSE = {"kernel_size": [2, 3, 3], "stride": [1, 2, 1], "dilation": [1, 1, 2]}
FULL = {"kernel_size": 4096}
# (audio latents per channel, keyframe anchors): t2va, t2va with audio, fl2va first / last / both
LAYOUTS = [(0, ()), (3, ()), (3, ("first",)), (2, ("last",)), (3, ("first", "last"))]


@pytest.fixture(scope="module")
def transformer():
    return tiny.tiny_minimax_h3_transformer(seed=0)


def _inputs(transformer, audio, keyframes, batch=2, grid=GRID):
    return tiny.minimax_h3_transformer_inputs(transformer, grid, batch=batch, text_len=TEXT, audio_latents=audio,
                                              keyframes=keyframes, seed=1)


def _backends():
    target = BackendTarget(torch.device("cpu"), torch.float32, 16, 3)
    return [name for name, backend in BACKENDS.items() if backend.unavailable_reason(target) is None]


def _run(transformer, inputs, window=None, backend="reference"):
    """(video output, audio output, describe totals); ``window`` None: stock."""
    if window is not None:
        na_accel.patch(transformer, {"model": "minimax_h3", "default": window}, backend=backend)
    try:
        with torch.no_grad():
            video, audio = transformer(**inputs, return_dict=False)
        totals = dict(na_accel.describe(transformer).transformers[0].totals) if window is not None else {}
    finally:
        if window is not None:
            na_accel.unpatch(transformer)
    return video, audio, totals


def _difference(a, b):
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


@pytest.mark.parametrize("audio, keyframes", LAYOUTS)
def test_the_layout_is_the_video_grid_after_every_other_row(transformer, audio, keyframes):
    inputs = _inputs(transformer, audio, keyframes)
    layout = adapter_for(transformer).token_layout(transformer, (), inputs)
    frame = GRID[1] * GRID[2]
    # text, one frame per keyframe, two audio channels: all before the video, all extra keys
    assert layout.problem is None and layout.grid == GRID and layout.text_first
    assert layout.text_len == TEXT + len(keyframes) * frame + 2 * audio
    assert layout.text_len + math.prod(GRID) == inputs["position_ids"].shape[0]


@pytest.mark.parametrize("audio, keyframes", LAYOUTS[1:])
def test_full_window_is_stock_and_sparse_is_reference(transformer, audio, keyframes):
    inputs = _inputs(transformer, audio, keyframes)
    stock_video, stock_audio, _ = _run(transformer, inputs)
    reference_video, reference_audio, _ = _run(transformer, inputs, SPARSE, "reference")
    layers = transformer.config.num_layers
    for backend in _backends():
        video, audio_out, totals = _run(transformer, inputs, FULL, backend)
        assert _difference(video, stock_video) <= TOLERANCE and _difference(audio_out, stock_audio) <= TOLERANCE
        assert totals == {"full window": layers}, backend
        video, audio_out, totals = _run(transformer, inputs, SPARSE, backend)
        assert _difference(video, reference_video) <= TOLERANCE, backend
        assert _difference(audio_out, reference_audio) <= TOLERANCE, backend
        assert totals == {"sparse": layers}, backend
    assert _difference(reference_video, stock_video) > 1e-4  # the window is sparse


def test_only_the_blocks_self_attention_is_routed_not_the_text_refiner(transformer):
    na_accel.patch(transformer, {"model": "minimax_h3", "default": SPARSE}, backend="reference")
    try:
        routed = routed_class(MiniMaxH3AttnProcessor)
        processors = {name: type(module.processor) for name, module in transformer.named_modules()
                      if hasattr(module, "processor")}
        assert processors == {
            "token_refiner.refiner_blocks.0.attn": MiniMaxH3AttnProcessor,  # the text alone: stock
            "transformer_blocks.0.attn": routed,
            "transformer_blocks.1.attn": routed,
        }
        with torch.no_grad():
            transformer(**_inputs(transformer, 3, ()))
        layers = na_accel.describe(transformer).transformers[0].layers
        assert [(layer.name, layer.sparse_calls) for layer in layers] == [
            ("transformer_blocks.0.attn", 1), ("transformer_blocks.1.attn", 1)]
    finally:
        na_accel.unpatch(transformer)


def _video_before_audio(inputs):
    """The same request packed [text | video | audio]: the video is no longer the tail."""
    text, video, audio = (inputs[f"{k}_indices"] for k in ("text", "video", "audio"))
    order = torch.cat([text, video, audio])  # new row i is old row order[i]
    new = torch.empty_like(order)
    new[order] = torch.arange(order.numel())
    moved = dict(inputs)
    for key in ("text_indices", "video_indices", "audio_indices"):
        moved[key] = new[inputs[key]]
    for key in ("position_ids", "token_tags", "timestep_indices"):
        moved[key] = inputs[key][order]
    return moved


def _scrambled_positions(inputs):
    """The video rows' (t, h, w) positions out of row-major order (the last two rows swapped)."""
    scrambled = dict(inputs)
    positions = inputs["position_ids"].clone()
    positions[[-1, -2]] = positions[[-2, -1]]
    scrambled["position_ids"] = positions
    return scrambled


@pytest.mark.parametrize("edit, reason", [
    (_video_before_audio, "is not its tail"),
    (_scrambled_positions, "are not a row-major 3x4x5 (frames, height, width) grid"),
])
def test_a_layout_gna_cannot_read_runs_stock_counted(transformer, edit, reason):
    inputs = edit(_inputs(transformer, 3, ()))
    stock_video, stock_audio, _ = _run(transformer, inputs)
    video, audio, totals = _run(transformer, inputs, SPARSE, "reference")
    assert torch.equal(video, stock_video) and torch.equal(audio, stock_audio)  # the stock processor ran
    (outcome, calls), = totals.items()
    assert outcome.startswith("dense: ") and reason in outcome and calls == transformer.config.num_layers


def test_the_moved_layout_is_still_the_same_request(transformer):
    """The edit above only re-packs: the stock model gives the same video and audio (so the stock run
    there is a real MiniMax-H3 call, not a broken one)."""
    inputs = _inputs(transformer, 3, ())
    video, audio, _ = _run(transformer, inputs)
    moved_video, moved_audio, _ = _run(transformer, _video_before_audio(inputs))
    assert _difference(moved_video, video) <= TOLERANCE and _difference(moved_audio, audio) <= TOLERANCE


def test_the_ref2va_partition_is_patched_with_the_t2va_one():
    """MiniMax-H3's repository holds two transformers (t2va/fl2va ``transformer``, ref2va
    ``transformer_ref``); a pipeline holding both has both patched."""
    pipe = tiny.tiny_minimax_h3_pipeline(seed=0)
    pipe.update_components(transformer_ref=tiny.tiny_minimax_h3_transformer(seed=5))
    na_accel.patch(pipe, "minimax_h3_gna", backend="reference")
    try:
        report = na_accel.describe(pipe)
        assert [t.attribute for t in report.transformers] == ["transformer", "transformer_ref"]
        assert all(layer.layer_plan.sparse for t in report.transformers for layer in t.layers)
    finally:
        na_accel.unpatch(pipe)
