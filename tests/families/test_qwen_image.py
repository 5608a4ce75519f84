"""Qwen-Image on a tiny random-weight transformer (float32, CPU): exact against stock (full window),
the reference backend (sparse), the stock text masking, and every layout GNA can't honour running
stock, counted with its reason."""

from __future__ import annotations

import inspect

import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor2_0
from diffusers.models.transformers.transformer_qwenimage import QwenDoubleStreamAttnProcessor2_0

import na_accel
from na_accel import tiny
from na_accel.families import family_spec

from na_accel.runtime.seam import routed_class

GNAQwenDoubleStreamAttnProcessor = routed_class(QwenDoubleStreamAttnProcessor2_0)


TOLERANCE = 1e-5
TEXT_LEN = 7


@pytest.fixture(scope="module")
def transformer():
    return tiny.tiny_qwen_image_transformer(seed=0)


def _inputs(transformer, grid=(5, 7), valid=(7, 3), seed=0, batch=2, references=()):
    return tiny.qwen_image_transformer_inputs(transformer, grid, batch=batch, text_len=TEXT_LEN,
                                              valid_text_lens=valid, reference_grids=references, seed=seed)


def _recipe(kernel_size, stride=1, dilation=1, **extra):
    return {"model": "qwen_image", "default": {"kernel_size": kernel_size, "stride": stride, "dilation": dilation},
            **extra}


def _run(transformer, inputs):
    with torch.no_grad():
        return transformer(**inputs).sample


def _run_patched(transformer, inputs, recipe, backend="auto"):
    """(output, totals, per-layer dense reasons) of one patched forward; unpatched afterwards."""
    na_accel.patch(transformer, recipe, backend=backend)
    try:
        output = _run(transformer, inputs)
        report = na_accel.describe(transformer).transformers[0]
    finally:
        na_accel.unpatch(transformer)
    return output, report.totals, {layer.name: dict(layer.dense_calls) for layer in report.layers}


def _max_diff(a, b):
    return (a - b).abs().max().item()


# --- full window reproduces stock; sparse windows match the reference ------------------------------


@pytest.mark.parametrize("grid, window", [
    ((5, 7), dict(kernel_size=[3, 4], stride=[2, 3])),  # odd grid, borders, stride
    ((7, 6), dict(kernel_size=[2, 3], stride=[2, 1], dilation=[3, 2])),  # dilation
    ((6, 5), dict(kernel_size=[3, 2], stride=[3, 2], dilation=[2, 1])),
])
def test_sparse_window_matches_reference(transformer, grid, window):
    inputs = _inputs(transformer, grid, (7, 4), seed=2)
    recipe = _recipe(**window)
    sparse, totals, _ = _run_patched(transformer, inputs, recipe)
    reference, _, _ = _run_patched(transformer, inputs, recipe, backend="reference")
    assert totals == {"sparse": 2}
    assert _max_diff(sparse, reference) <= TOLERANCE
    assert _max_diff(sparse, _run(transformer, inputs)) > 1e-3  # the window really changed the attention


# --- reference images (edit pipelines): extra grids ------------------------------------------------


def _reference_windows(transformer):
    return [layer.ran_reference_windows for layer in na_accel.describe(transformer).transformers[0].layers]


@pytest.mark.parametrize("references, window", [
    ([(3, 4)], dict(kernel_size=[3, 3], stride=[2, 1])),  # QwenImageEditPipeline: one reference image
    ([(4, 3), (2, 5)], dict(kernel_size=[2, 3], dilation=[2, 1])),  # EditPlus: several, of other sizes
])
def test_reference_images_are_extra_grids_matching_the_reference_backend(transformer, references, window):
    inputs = _inputs(transformer, (5, 6), (7, 3), seed=10, references=references)
    recipe = _recipe(**window)
    na_accel.patch(transformer, recipe)
    try:
        sparse = _run(transformer, inputs)
        assert na_accel.describe(transformer).transformers[0].totals == {"sparse": 2}
        ran = _reference_windows(transformer)
    finally:
        na_accel.unpatch(transformer)
    assert all([w.rsplit(" at grid ", 1)[1] for w in layer] == [f"{h}x{w}" for h, w in references] for layer in ran)
    reference, _, _ = _run_patched(transformer, inputs, recipe, backend="reference")
    assert _max_diff(sparse, reference) <= TOLERANCE
    assert _max_diff(sparse, _run(transformer, inputs)) > 1e-3


def test_a_window_covering_every_grid_reproduces_stock_with_reference_images(transformer):
    inputs = _inputs(transformer, (5, 6), (7, 3), seed=11, references=[(6, 4)])
    stock = _run(transformer, inputs)
    patched, totals, _ = _run_patched(transformer, inputs, _recipe([6, 6]))
    assert totals == {"full window": 2} and _max_diff(patched, stock) <= TOLERANCE


def test_zero_cond_t_modulation_leaves_the_layout_alone():
    """Qwen-Image-Edit-2511's zero_cond_t modulates the reference images' tokens with timestep 0:
    the modulation changes, the attention layout does not."""
    transformer = tiny.tiny_qwen_image_transformer(seed=3, zero_cond_t=True)
    inputs = _inputs(transformer, (5, 6), (7, 2), seed=3, references=[(3, 5)])
    stock = _run(transformer, inputs)
    full, _, _ = _run_patched(transformer, inputs, _recipe([5, 6]))
    assert _max_diff(full, stock) <= TOLERANCE
    recipe = _recipe([3, 3], stride=[1, 2])
    sparse, totals, _ = _run_patched(transformer, inputs, recipe)
    reference, _, _ = _run_patched(transformer, inputs, recipe, backend="reference")
    assert totals == {"sparse": 2} and _max_diff(sparse, reference) <= TOLERANCE


# --- the padded text is never a key ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_padded_text_is_never_a_key(transformer, backend):
    """Changing padded text embeddings must not change the image output."""
    inputs = _inputs(transformer, (5, 6), (7, 3), seed=4)
    changed = dict(inputs, encoder_hidden_states=inputs["encoder_hidden_states"].clone())
    changed["encoder_hidden_states"][1, 3:] += 5.0  # row 1's padding
    recipe = _recipe([3, 3], stride=[2, 1])
    out, totals, _ = _run_patched(transformer, inputs, recipe, backend=backend)
    out_changed, _, _ = _run_patched(transformer, changed, recipe, backend=backend)
    assert totals == {"sparse": 2}
    assert _max_diff(out, out_changed) <= TOLERANCE
    changed["encoder_hidden_states"][0, 6] += 5.0  # row 0's text is all valid: a change shows
    out_changed, _, _ = _run_patched(transformer, changed, recipe, backend=backend)
    assert _max_diff(out[0], out_changed[0]) > 1e-3


def test_rows_with_different_prompt_lengths_match_single_rows(transformer):
    inputs = _inputs(transformer, (6, 5), (7, 2), seed=5)
    recipe = _recipe([3, 2], dilation=[1, 2])
    batched, totals, _ = _run_patched(transformer, inputs, recipe)
    assert totals == {"sparse": 2}
    for row, valid in enumerate((7, 2)):
        alone = _inputs(transformer, (6, 5), (valid,), seed=5, batch=1)
        alone.update(hidden_states=inputs["hidden_states"][row:row + 1],
                     encoder_hidden_states=inputs["encoder_hidden_states"][row:row + 1])
        single, _, _ = _run_patched(transformer, alone, recipe)
        assert _max_diff(batched[row], single[0]) <= TOLERANCE


# --- layouts GNA can't honour run stock, counted with the reason ----------------------------------


def _left_padded(inputs):
    mask = inputs["encoder_hidden_states_mask"].clone()
    mask[1] = mask[1].flip(0)  # row 1: padding first, then the valid tokens
    return dict(inputs, encoder_hidden_states_mask=mask)


def _rows_differ(inputs):
    return dict(inputs, img_shapes=[[(1, 5, 6)], [(1, 6, 5)]])


def _two_frames(inputs):
    return dict(inputs, img_shapes=[[(2, 5, 3)]] * 2)


@pytest.mark.parametrize("change, reason", [
    (_left_padded, "encoder_hidden_states_mask is not a valid prefix in every row"),
    (_rows_differ, "img_shapes differ between batch rows"),
    (_two_frames, "has a grid of several frames"),
])
def test_unknown_layouts_run_stock_counted_with_the_reason(transformer, change, reason):
    inputs = change(_inputs(transformer, (5, 6), (7, 3), seed=6))
    stock = _run(transformer, inputs)
    with pytest.warns(UserWarning, match="ran dense attention: no token grid"):
        patched, totals, dense = _run_patched(transformer, inputs, _recipe([3, 3]))
    assert torch.equal(patched, stock)  # the stock processor ran
    assert totals["sparse"] == 0 and totals["full window"] == 0
    for reasons in dense.values():
        (key, count), = reasons.items()
        assert count == 1 and reason in key, key


def test_a_token_count_img_shapes_does_not_describe_is_no_grid(transformer):
    """The stock forward fails on it too (its RoPE has img_shapes' length): the stock processor runs
    unchanged up to its attention call, so the stock error is raised, before any routing."""
    inputs = _inputs(transformer, (5, 6), (7, 3), seed=6)
    inputs["hidden_states"] = inputs["hidden_states"][:, :-6]
    layout = family_spec("qwen_image").adapter().token_layout(transformer, (), inputs)
    assert layout.grid is None and layout.problem == "24 image tokens but img_shapes [[1, 5, 6]] describe 30"
    with pytest.raises(RuntimeError) as stock:
        _run(transformer, inputs)
    na_accel.patch(transformer, _recipe([3, 3]))
    try:
        with pytest.raises(RuntimeError) as patched:
            _run(transformer, inputs)
    finally:
        na_accel.unpatch(transformer)
    assert str(patched.value) == str(stock.value)


def test_layered_transformers_run_stock():
    transformer = tiny.tiny_qwen_image_transformer(seed=0)
    transformer.register_to_config(use_layer3d_rope=True)  # what the adapter reads; the forward is unchanged
    inputs = _inputs(transformer, (4, 5), None, seed=7)
    with pytest.warns(UserWarning, match="Qwen-Image-Layered"):
        _, totals, _ = _run_patched(transformer, inputs, _recipe([3, 3]))
    assert totals["sparse"] == 0 and sum(totals.values()) == 2


def _shorter_text(mask):
    mask = mask.clone()
    mask[1, 4] = False  # row 1: 4 valid text tokens, not 5
    return mask


@pytest.mark.parametrize("edit, dense_reason", [
    (_shorter_text, None),  # row 1 has 4 valid text tokens at this layer: GNA cuts that padding
    (lambda mask: None, None),  # no mask at this layer: the padding is a key there, for GNA too
    (lambda mask: mask.float(), "an attention_mask was passed that the GNA path can't honour"),  # added to scores
])
def test_a_layer_handed_another_mask_follows_it(transformer, edit, dense_reason):
    """A mask changed on its way to one layer (a user's hook) is what stock honours at that layer:
    GNA honours it too (full window == stock), or, where it can't (a float mask), runs stock, counted."""
    inputs = _inputs(transformer, (4, 5), (7, 5), seed=8)
    layer = transformer.transformer_blocks[0].attn

    def edit_mask(module, args, kwargs):
        return args, {**kwargs, "encoder_hidden_states_mask": edit(kwargs["encoder_hidden_states_mask"])}

    handle = layer.register_forward_pre_hook(edit_mask, with_kwargs=True)
    try:
        stock = _run(transformer, inputs)
        patched, totals, dense = _run_patched(transformer, inputs, _recipe([4, 5]))  # full window
    finally:
        handle.remove()
    assert _max_diff(patched, stock) <= TOLERANCE
    if dense_reason is None:
        assert totals == {"full window": 2} and not dense.get("transformer_blocks.0.attn")
    else:
        assert totals["full window"] == 1
        (key, count), = dense["transformer_blocks.0.attn"].items()
        assert count == 1 and dense_reason in key, key


# --- which layers, processors and unpatch ----------------------------------------------------------


def test_every_block_attention_becomes_gna_and_unpatch_is_bit_identical(transformer):
    before = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    inputs = _inputs(transformer, (4, 5), (7, 3), seed=9)
    stock = _run(transformer, inputs)
    na_accel.patch(transformer, _recipe([2, 3], layers=[{"match": "transformer_blocks.1.attn", "dense": True}]))
    after = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    assert sorted(before) == ["transformer_blocks.0.attn", "transformer_blocks.1.attn"]
    assert type(after["transformer_blocks.0.attn"]) is GNAQwenDoubleStreamAttnProcessor
    assert after["transformer_blocks.1.attn"] is before["transformer_blocks.1.attn"]  # a dense rule: untouched
    na_accel.unpatch(transformer)
    assert all(m.processor is before[n] for n, m in transformer.named_modules() if hasattr(m, "processor"))
    assert torch.equal(_run(transformer, inputs), stock)
    assert not transformer._forward_pre_hooks and not transformer._forward_hooks


def test_unsupported_processor_keeps_running(transformer):
    module = transformer.transformer_blocks[0].attn
    original = module.processor
    module.set_processor(AttnProcessor2_0())
    try:
        layers = na_accel.describe(transformer, _recipe([2, 2])).transformers[0].layers
        assert "processor AttnProcessor2_0 is not supported" in layers[0].plan
        assert layers[1].plan.startswith("GNA")
    finally:
        module.set_processor(original)


def test_processor_keeps_the_stock_call_parameters():
    stock = inspect.signature(QwenDoubleStreamAttnProcessor2_0.__call__).parameters
    assert list(inspect.signature(GNAQwenDoubleStreamAttnProcessor.__call__).parameters) == list(stock)


def test_layouts_of_the_pipelines_img_shapes(transformer):
    """The adapter reads img_shapes as the stock RoPE does: a row is a list of shapes or one shape."""
    adapter = family_spec("qwen_image").adapter()
    inputs = _inputs(transformer, (3, 4), (7, 2), seed=0)
    for img_shapes in ([[(1, 3, 4)]] * 2, [(1, 3, 4)], (1, 3, 4), [[[1, 3, 4]]]):
        layout = adapter.token_layout(transformer, (), dict(inputs, img_shapes=img_shapes))
        assert (layout.grid, layout.text_len, layout.text_first, layout.problem) == ((3, 4), 7, True, None)
        assert layout.text_valid_lens == (7, 2)
    layout = adapter.token_layout(transformer, (), dict(inputs, img_shapes=None))
    assert layout.grid is None and layout.problem == "forward called without img_shapes"
