"""LTX-Video and LTX-2 adapters on tiny random-weight transformers (float32, CPU).

LTX-2's condition pipelines append keyframe tokens after the video grid: they must join every
video query's keys (like text) and attend densely themselves, checked against an explicit mask
built from NATTEN's per-axis rule (tests/window_oracles.py), not na_accel's code. What GNA can't
do exactly (a perturbed block's skipped attention, IC-LoRA's self-attention mask, a call without
the grid size) runs stock and is counted with its reason.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.transformers import transformer_ltx2

import na_accel
from na_accel import tiny
from tests.window_oracles import natten_rule_neighbors

TOLERANCE = 1e-5
GRID = (2, 3, 4)


def _recipe(family, kernel_size, stride=1, dilation=1):
    return {"model": family, "dense_steps": 0,
            "default": {"kernel_size": kernel_size, "stride": stride, "dilation": dilation}}


def _run(transformer, inputs):
    with torch.no_grad():
        return transformer(**inputs, return_dict=False)[0]


def _run_patched(transformer, inputs, recipe, backend="reference"):
    na_accel.patch(transformer, recipe, backend=backend)
    try:
        output = _run(transformer, inputs)
        report = na_accel.describe(transformer).transformers[0]
        per_layer = {layer.name: {str(outcome): n for outcome, n in layer.counts.items()} for layer in report.layers}
        return output, dict(report.totals), per_layer
    finally:
        na_accel.unpatch(transformer)


def _difference(a, b):
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


def _window_mask(grid, kernel, stride, dilation, extra):
    """[S, S] bool: grid queries see their NATTEN neighborhood and every extra token; extra tokens see all."""
    cells = list(itertools.product(*(range(n) for n in grid)))
    n_grid = len(cells)
    mask = torch.ones(n_grid + extra, n_grid + extra, dtype=torch.bool)
    neighbors = [[natten_rule_neighbors(n, k, s, d, False, i) for i in range(n)]
                 for n, k, s, d in zip(grid, kernel, stride, dilation)]
    for q, q_cell in enumerate(cells):
        for kv, kv_cell in enumerate(cells):
            mask[q, kv] = all(kv_cell[a] in neighbors[a][q_cell[a]] for a in range(len(grid)))
    return mask


@pytest.fixture(scope="module")
def ltx2():
    return tiny.tiny_ltx2_transformer(seed=0)


@pytest.mark.parametrize("backend", ["reference", "flex-fna"])
def test_ltx2_keyframe_tokens_are_extra_keys(ltx2, backend, monkeypatch):
    kernel, stride, dilation, extra = (2, 3, 3), (1, 2, 1), (1, 1, 1), 5
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=2, text_len=6, keyframe_tokens=extra, seed=3)
    layout = na_accel.families.family_spec("ltx2").adapter().token_layout(ltx2, (), inputs)
    assert (layout.grid, layout.text_len, layout.text_first) == (GRID, extra, False)

    sparse, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", list(kernel), list(stride), list(dilation)),
                                     backend=backend)
    assert totals == {"sparse": ltx2.config.num_layers}

    # the independent judge: the stock model, its video self attention given the explicit mask
    mask = _window_mask(GRID, kernel, stride, dilation, extra)
    stock_dispatch = transformer_ltx2.dispatch_attention_fn
    masked = []

    def dispatch(query, key, value, attn_mask=None, **kwargs):
        if query.shape[1] == key.shape[1] == mask.shape[0] and attn_mask is None:  # attn1: video self attention
            masked.append(1)
            out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                                 attn_mask=mask)
            return out.transpose(1, 2)
        return stock_dispatch(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(transformer_ltx2, "dispatch_attention_fn", dispatch)
    expected = _run(ltx2, inputs)
    assert len(masked) == ltx2.config.num_layers
    assert _difference(sparse, expected) <= TOLERANCE
    monkeypatch.undo()
    assert _difference(sparse, _run(ltx2, inputs)) > 1e-4  # the window is really sparse


def test_ltx2_full_window_with_keyframes_reproduces_stock(ltx2):
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=2, text_len=6, keyframe_tokens=4, seed=1,
                                          valid_text_lens=[6, 2])
    stock = _run(ltx2, inputs)
    patched, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", list(GRID)))
    assert totals == {"full window": ltx2.config.num_layers}
    assert _difference(patched, stock) <= TOLERANCE


def test_ltx2_only_video_self_attention_is_routed(ltx2):
    stock = {name: type(module.processor) for name, module in ltx2.named_modules() if hasattr(module, "processor")}
    na_accel.patch(ltx2, _recipe("ltx2", [2, 3, 3]), backend="reference")
    try:
        changed = sorted(name for name, module in ltx2.named_modules()
                         if hasattr(module, "processor") and type(module.processor) is not stock[name])
    finally:
        na_accel.unpatch(ltx2)
    assert changed == [f"transformer_blocks.{i}.attn1" for i in range(ltx2.config.num_layers)]
    assert all(type(module.processor) is stock[name] for name, module in ltx2.named_modules()
               if hasattr(module, "processor"))


def test_ltx2_spatio_temporal_guidance_block_runs_stock_counted(ltx2):
    """A perturbed block (STG) skips its attention call: counted stock; the other block runs GNA."""
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=1, seed=2)
    inputs["spatio_temporal_guidance_blocks"] = [1]
    stock = _run(ltx2, inputs)
    patched, totals, per_layer = _run_patched(ltx2, inputs, _recipe("ltx2", list(GRID)))
    assert _difference(patched, stock) <= TOLERANCE
    assert per_layer["transformer_blocks.0.attn1"] == {"full window": 1}
    (reason, count), = per_layer["transformer_blocks.1.attn1"].items()
    assert count == 1 and "without a routed call" in str(reason)


def test_ltx2_self_attention_mask_runs_stock_counted(ltx2):
    """IC-LoRA's video_self_attention_mask weighs token pairs: GNA can't honour it."""
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=2, seed=4)
    tokens = inputs["hidden_states"].shape[1]
    inputs["video_self_attention_mask"] = torch.rand(2, tokens, tokens, generator=torch.Generator().manual_seed(0))
    stock = _run(ltx2, inputs)
    patched, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", [2, 3, 3]))
    assert _difference(patched, stock) <= TOLERANCE
    (reason, count), = totals.items()
    assert count == ltx2.config.num_layers and "attention_mask" in reason


def test_ltx2_coordinates_without_grid_size_run_stock_counted(ltx2):
    """The DFR tile pipelines pass video_coords only: no grid, every layer stock, with the reason."""
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=1, seed=5)
    inputs["video_coords"] = ltx2.rope.prepare_video_coords(1, *GRID, torch.device("cpu"), fps=24.0)
    for name in ("num_frames", "height", "width"):
        inputs.pop(name)
    stock = _run(ltx2, inputs)
    patched, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", [2, 3, 3]))
    assert torch.equal(patched, stock)
    (reason, count), = totals.items()
    assert count == ltx2.config.num_layers and "without num_frames, height and width" in reason


def test_ltx_video_condition_coordinates_run_stock_counted():
    """LTXConditionPipeline passes video_coords only (conditioning tokens of other videos in front)."""
    transformer = tiny.tiny_ltx_video_transformer(seed=0)
    inputs = tiny.ltx_video_transformer_inputs(transformer, GRID, batch=2, seed=6)
    cells = torch.tensor(list(itertools.product(*(range(n) for n in GRID))), dtype=torch.float32)
    inputs["video_coords"] = cells.T[None].repeat(2, 1, 1) * torch.tensor([1.0, 32.0, 32.0])[None, :, None]
    for name in ("num_frames", "height", "width", "rope_interpolation_scale"):
        inputs.pop(name)
    stock = _run(transformer, inputs)
    patched, totals, _ = _run_patched(transformer, inputs, _recipe("ltx_video", [2, 3, 3]))
    assert torch.equal(patched, stock)
    (reason, count), = totals.items()
    assert count == transformer.config.num_layers and "video_coords only" in reason


def test_ltx_video_sparse_window_against_an_independent_mask(monkeypatch):
    from diffusers.models.transformers import transformer_ltx

    transformer = tiny.tiny_ltx_video_transformer(seed=0)
    kernel, stride, dilation = (2, 3, 3), (1, 1, 2), (1, 1, 1)
    inputs = tiny.ltx_video_transformer_inputs(transformer, (2, 3, 5), batch=2, text_len=6, valid_text_lens=[6, 3])
    sparse, totals, _ = _run_patched(transformer, inputs, _recipe("ltx_video", list(kernel), list(stride)))
    assert totals == {"sparse": transformer.config.num_layers}
    mask = _window_mask((2, 3, 5), kernel, stride, dilation, 0)
    stock_dispatch = transformer_ltx.dispatch_attention_fn

    def dispatch(query, key, value, attn_mask=None, **kwargs):
        if query.shape[1] == key.shape[1] == mask.shape[0] and attn_mask is None:
            out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                                 attn_mask=mask)
            return out.transpose(1, 2)
        return stock_dispatch(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(transformer_ltx, "dispatch_attention_fn", dispatch)
    assert _difference(sparse, _run(transformer, inputs)) <= TOLERANCE
