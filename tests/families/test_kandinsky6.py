"""Kandinsky 6 on a tiny random-weight transformer (float32, CPU): only the video self attention is
routed (text blocks, audio self attention, text and cross-modal attention stay stock), exact against
stock with a full window with and without audio, and image to video's reference frame read as a
reference grid."""

from __future__ import annotations

import copy

import pytest
import torch
from diffusers.models.transformers.transformer_kandinsky6 import Kandinsky6AttnProcessor

import na_accel
from na_accel import tiny
from na_accel.families import family_spec
from na_accel.kernels.reference import REFERENCE
from na_accel.runtime.seam import RoutedProcessor

GRID = (3, 4, 5)


@pytest.fixture(scope="module")
def transformer():
    return tiny.tiny_kandinsky6_transformer(seed=0).requires_grad_(False)


def _inputs(transformer, grid=GRID, audio=False, reference_frame=False):
    inputs = tiny.kandinsky6_transformer_inputs(transformer, grid, batch=2, text_len=6, valid_text_lens=[6, 3])
    if audio:
        inputs["audio_hidden_states"] = torch.randn(2, 7, transformer.config.in_audio_dim,
                                                    generator=torch.Generator().manual_seed(1))
    if reference_frame:  # as Kandinsky6TI2VAPipeline: the last latent frame, token type 1, temporal position 0
        frames = grid[0]
        inputs["visual_token_type_ids"] = torch.zeros(2, frames, dtype=torch.long)
        inputs["visual_token_type_ids"][:, -1] = 1
        inputs["visual_rope_pos"] = (torch.cat([torch.arange(frames - 1), torch.zeros(1, dtype=torch.long)]),
                                     torch.arange(grid[1]), torch.arange(grid[2]))
    return inputs


def _run(transformer, inputs, recipe=None, backend=REFERENCE):
    """(outputs, totals): stock where ``recipe`` is None, else a patched copy's."""
    model = transformer if recipe is None else na_accel.patch(copy.deepcopy(transformer), recipe, backend=backend)
    with torch.no_grad():
        out = model(**inputs, return_dict=False)
    return out, (dict(na_accel.describe(model).transformers[0].totals) if recipe is not None else {})


def _recipe(kernel_size):
    return {"model": "kandinsky6", "default": {"kernel_size": kernel_size}}


def test_only_the_video_self_attention_is_routed(transformer):
    patched = na_accel.patch(copy.deepcopy(transformer), _recipe([2, 3, 3]), backend=REFERENCE)
    routed = {name for name, module in patched.named_modules()
              if isinstance(getattr(module, "processor", None), RoutedProcessor)}
    assert routed == {f"visual_transformer_blocks.{i}.video_dec_block.self_attention" for i in range(2)}
    stock = [name for name, module in patched.named_modules()
             if type(getattr(module, "processor", None)) is Kandinsky6AttnProcessor]
    assert any("audio_dec_block.self_attention" in n for n in stock) and any("va_cross" in n for n in stock)
    assert any("text_transformer_blocks" in n for n in stock) and any("video_dec_block.cross" in n for n in stock)


@pytest.mark.parametrize("audio", [False, True], ids=["video", "video+audio"])
def test_full_window_reproduces_stock_and_a_small_one_is_sparse(transformer, audio):
    inputs = _inputs(transformer, audio=audio)
    stock, _ = _run(transformer, inputs)
    full, totals = _run(transformer, inputs, _recipe(4096))
    assert len(full) == len(stock) == (2 if audio else 1)
    assert all((a - b).abs().max().item() <= 1e-5 for a, b in zip(full, stock)) and totals == {"full window": 2}
    sparse, totals = _run(transformer, inputs, _recipe([2, 3, 3]))
    assert totals == {"sparse": 2} and (sparse[0] - stock[0]).abs().max().item() > 1e-4


def test_the_reference_frame_of_image_to_video_is_a_reference_grid(transformer):
    inputs = _inputs(transformer, reference_frame=True)
    layout = family_spec("kandinsky6").adapter().token_layout(transformer, (), inputs)
    assert layout.grid == (2, 4, 5) and layout.extra_grids == ((1, 4, 5),) and layout.text_len == 0
    stock, _ = _run(transformer, inputs)
    full, totals = _run(transformer, inputs, _recipe(4096))
    assert (full[0] - stock[0]).abs().max().item() <= 1e-5 and totals == {"full window": 2}
    judge, _ = _run(transformer, inputs, _recipe([2, 3, 3]))
    for backend in ("flex-fna", "triton"):  # the video grid's window, the reference grid whole, as reference
        out, totals = _run(transformer, inputs, _recipe([2, 3, 3]), backend=backend)
        assert totals == {"sparse": 2} and (out[0] - judge[0]).abs().max().item() <= 1e-5, backend
    assert (judge[0] - stock[0]).abs().max().item() > 1e-4


def test_token_types_that_are_no_trailing_reference_frames_run_stock_counted(transformer):
    inputs = _inputs(transformer)
    inputs["visual_token_type_ids"] = torch.tensor([[1, 0, 0], [1, 0, 0]])
    stock, _ = _run(transformer, inputs)
    out, totals = _run(transformer, inputs, _recipe([2, 3, 3]))
    assert (out[0] - stock[0]).abs().max().item() == 0
    assert sum(totals.values()) == 2 and all("reference frames" in reason for reason in totals), totals
