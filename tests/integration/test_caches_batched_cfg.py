"""FasterCache skipping the unconditional half of a batched [uncond, cond] call, on padded text.

FasterCache's denoiser hook slices the batch to the conditional half INSIDE the transformer's
forward, after na_accel's pre-hook read the token layout (and each row's valid text length) from
the full batch. The padded-text families (HunyuanVideo, HunyuanVideo 1.5) then hand their layers a
padding mask of the rows that ran: routing takes those rows' lengths from it (when they are a run
of the inputs' rows) instead of falling back to dense. Before that fix every sliced call ran dense,
counted with a misleading "valid text lengths differ" reason.

No tiny pipeline batches CFG (they call the transformer once per branch), so these tests drive
the transformer as a custom denoising loop would: three calls under one cache context.
Qwen-Image is not here: FasterCache's frequency split needs a (B, C, [F,] H, W) output, and
Qwen-Image's is packed tokens, so its unconditional skipping fails stock.
"""

from __future__ import annotations

import pytest
import torch
from diffusers import FasterCacheConfig

import na_accel
from na_accel import tiny
from na_accel.families import TokenLayout
from na_accel.runtime.routing import rows_text_lens

TOLERANCE = 1e-5

PADDED_TEXT_FAMILIES = {
    "hunyuan_video": (
        tiny.tiny_hunyuan_video_transformer,
        lambda t: tiny.hunyuan_video_transformer_inputs(t, (2, 3, 4), batch=2, text_len=6, valid_text_lens=[6, 3]),
    ),
    "hunyuan_video15": (
        tiny.tiny_hunyuan_video15_transformer,
        lambda t: tiny.hunyuan_video15_transformer_inputs(t, (2, 3, 4), batch=2, text_len=8, valid_text_lens=[6, 3]),
    ),
}


def _gna_layers(family: str) -> list[str]:
    """The layers na_accel patches in the family's tiny transformer (a dry run of describe)."""
    transformer = tiny.TINY_TRANSFORMERS[family](seed=0)
    report = na_accel.describe(transformer, {"model": family, "default": {"kernel_size": [2, 3, 3]}})
    return [layer.name for layer in report.transformers[0].layers]


def _faster_cache_cfg_calls(family: str, kernel_size, backend: str | None):
    """Three denoiser calls of a batched [uncond, cond] pair under FasterCache: the second runs only
    the conditional row. Returns the outputs, the batch each attention call got, na_accel's totals."""
    make, make_inputs = PADDED_TEXT_FAMILIES[family]
    transformer = make(seed=0).requires_grad_(False)
    inputs = make_inputs(transformer)
    if backend is not None:
        na_accel.patch(transformer, {"model": family, "default": {"kernel_size": kernel_size}}, backend=backend)
    transformer.enable_cache(FasterCacheConfig(
        spatial_attention_block_skip_range=None,  # every attention runs: the batch slicing alone
        current_timestep_callback=lambda: 500,
        unconditional_batch_skip_range=2,
        unconditional_batch_timestep_skip_range=(-1, 1000),
        tensor_format="BCFHW",
        attention_weight_callback=lambda _: 0.5,
        # every batched input (the default list misses pooled_projections, guidance, the 2nd text)
        _unconditional_conditional_input_kwargs_identifiers=[
            k for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.shape[0] == 2],
    ))
    modules = dict(transformer.named_modules())
    batches = []  # the batch each call of a GNA layer got (read from its query projection's input)
    handles = [modules[name].to_q.register_forward_hook(lambda _m, args, _o: batches.append(args[0].shape[0]))
               for name in _gna_layers(family)]
    outputs = []
    with torch.no_grad():
        for _ in range(3):
            with transformer.cache_context("cfg"):
                outputs.append(transformer(**inputs).sample)
    for handle in handles:
        handle.remove()
    totals = dict(na_accel.describe(transformer).transformers[0].totals) if backend is not None else None
    return outputs, batches, totals


@pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning")  # inside FasterCache's frequency split
@pytest.mark.parametrize("family", sorted(PADDED_TEXT_FAMILIES))
def test_faster_cache_unconditional_skipping_keeps_the_rows_text_lengths(family):
    stock, stock_batches, _ = _faster_cache_cfg_calls(family, None, None)
    full, _, full_totals = _faster_cache_cfg_calls(family, [999, 999, 999], "auto")
    flex, batches, flex_totals = _faster_cache_cfg_calls(family, [2, 3, 3], "flex-fna")
    ref, _, ref_totals = _faster_cache_cfg_calls(family, [2, 3, 3], "reference")

    n_layers = len(_gna_layers(family))
    # the second call ran the conditional row alone, in every GNA layer
    assert batches == stock_batches == [2] * n_layers + [1] * n_layers + [2] * n_layers
    # every call ran GNA with its own rows' text lengths: none fell back to dense
    assert full_totals == {"full window": 3 * n_layers}
    assert flex_totals == ref_totals == {"sparse": 3 * n_layers}
    for f, s, a, b in zip(full, stock, flex, ref):
        torch.testing.assert_close(f, s, atol=TOLERANCE, rtol=0)
        torch.testing.assert_close(a, b, atol=TOLERANCE, rtol=0)


def test_rows_text_lens_are_the_masks_own():
    """The mask a layer attends with decides (stock honours it): FasterCache's conditional half,
    an edited mask, or all-valid text (None) alike."""
    layout = TokenLayout((2, 2), 6, False, text_valid_lens=(6, 3))
    assert rows_text_lens(layout, (6, 3)) == (6, 3)
    assert rows_text_lens(layout, (3,)) == (3,)  # FasterCache's conditional half
    assert rows_text_lens(layout, (6, 4)) == (6, 4)
    assert rows_text_lens(layout, (6, 6)) is None and rows_text_lens(TokenLayout((2, 2), 6, True), (6,)) is None


@pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning")
@pytest.mark.parametrize("valid_text_lens", [[6, 3], [4, 4]])
def test_compiled_faster_cache_slicing_runs_stock_where_the_rows_are_unknown(valid_text_lens):
    """Under torch.compile the padding mask is trusted, not read: a layer that gets only the
    conditional row can't know its text length, so it runs stock, counted (before: GNA ran with the
    unconditional row's length, silently wrong) — unless every row has the same length."""
    family = "hunyuan_video"
    transformer = tiny.tiny_hunyuan_video_transformer(seed=0).requires_grad_(False)
    inputs = tiny.hunyuan_video_transformer_inputs(
        transformer, (2, 3, 4), batch=2, text_len=6, valid_text_lens=valid_text_lens)
    na_accel.patch(transformer, {"model": family, "default": {"kernel_size": [2, 3, 3]}}, backend="reference")
    transformer.enable_cache(FasterCacheConfig(
        spatial_attention_block_skip_range=None, current_timestep_callback=lambda: 500,
        unconditional_batch_skip_range=2, unconditional_batch_timestep_skip_range=(-1, 1000),
        tensor_format="BCFHW", attention_weight_callback=lambda _: 0.5,
        _unconditional_conditional_input_kwargs_identifiers=[
            k for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.shape[0] == 2],
    ))
    torch._dynamo.reset()
    compiled = torch.compile(transformer, backend="eager")
    with torch.no_grad():
        for _ in range(3):
            with transformer.cache_context("cfg"):
                compiled(**inputs)
    torch._dynamo.reset()
    n_layers = len(_gna_layers(family))
    totals = dict(na_accel.describe(transformer).transformers[0].totals)
    if len(set(valid_text_lens)) == 1:
        assert totals == {"sparse": 3 * n_layers}
        return
    assert totals.pop("sparse") == 2 * n_layers
    [(reason, count)] = totals.items()
    assert count == n_layers and "got 1 batch rows but the transformer's inputs had 2" in reason
