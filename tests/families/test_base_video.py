"""The video layout of ``families/base.py`` (``VideoSelfAttentionLayout``) in the HunyuanVideo, Cosmos
and Wan adapters, on tiny random-weight transformers (float32, CPU): causal and dilated windows at
odd sizes against the explicit-mask reference, what is routed and what stays stock. (A full window
reproducing stock, every family and backend: tests/integration/test_transformer_contract.py.)
"""

from __future__ import annotations

import pytest
import torch

import na_accel
from na_accel import tiny
from na_accel.errors import RecipeError
from diffusers.models.transformers.transformer_cosmos import CosmosAttnProcessor2_0
from diffusers.models.transformers.transformer_hunyuan_video import HunyuanVideoAttnProcessor2_0
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from na_accel.runtime.seam import routed_class
from helpers.patched_runs import run, run_patched

GNACosmosAttnProcessor = routed_class(CosmosAttnProcessor2_0)
GNAHunyuanVideoAttnProcessor = routed_class(HunyuanVideoAttnProcessor2_0)
GNAWanAttnProcessor = routed_class(WanAttnProcessor)

TOLERANCE = 1e-5


def _hunyuan_inputs(transformer, grid, batch=2, seed=0, valid_text_lens=None):
    valid = valid_text_lens if valid_text_lens is not None else [7, 3][:batch]
    return tiny.hunyuan_video_transformer_inputs(
        transformer, grid, batch=batch, text_len=7, valid_text_lens=valid, seed=seed
    )


FAMILIES = {
    # family: (tiny transformer, forward inputs builder, GNA processor class)
    "hunyuan_video": (tiny.tiny_hunyuan_video_transformer, _hunyuan_inputs, GNAHunyuanVideoAttnProcessor),
    "cosmos": (
        tiny.tiny_cosmos_transformer,
        lambda t, grid, batch=2, seed=0: tiny.cosmos_transformer_inputs(t, grid, batch=batch, seed=seed),
        GNACosmosAttnProcessor,
    ),
    "wan": (
        tiny.tiny_wan_transformer,

        lambda t, grid, batch=2, seed=0: tiny.wan_transformer_inputs(t, grid, batch=batch, seed=seed),
        GNAWanAttnProcessor,
    ),
}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    make, inputs, processor_class = FAMILIES[request.param]
    return request.param, make(seed=0), inputs, processor_class


def _recipe(family, kernel_size, stride=1, dilation=1, is_causal=False, **extra):
    window = {"kernel_size": kernel_size, "stride": stride, "dilation": dilation, "is_causal": is_causal}
    return {"model": family, "default": window, **extra}


@pytest.mark.parametrize(
    "grid, window",
    [
        ((4, 5, 7), dict(kernel_size=[3, 3, 5], stride=[1, 2, 3])),  # odd sizes, borders, stride
        ((4, 6, 5), dict(kernel_size=[2, 3, 2], stride=[2, 1, 1], dilation=[2, 1, 2], is_causal=[True, False, False])),
    ],
)
def test_sparse_window_matches_reference(family, grid, window):
    name, transformer, make_inputs, _ = family
    inputs = make_inputs(transformer, grid, seed=2)
    recipe = _recipe(name, **window)
    sparse, totals = run_patched(transformer, inputs, recipe)
    reference, _ = run_patched(transformer, inputs, recipe, backend="reference")
    stock = run(transformer, inputs)
    assert totals["sparse"] > 0 and totals["full window"] == 0
    assert (sparse - reference).abs().max().item() <= TOLERANCE
    assert (sparse - stock).abs().max().item() > 1e-3  # the window really changed the attention


def test_one_latent_frame_runs_as_2d(family):
    """T = 1 (Cosmos 2 text-to-image): the frame axis is dropped, (height, width) stays sparse."""
    name, transformer, make_inputs, _ = family
    inputs = make_inputs(transformer, (1, 5, 6), seed=3)
    recipe = _recipe(name, kernel_size=[4, 3, 3], stride=[2, 1, 2])
    sparse, totals = run_patched(transformer, inputs, recipe)
    reference, _ = run_patched(transformer, inputs, recipe, backend="reference")
    assert totals["sparse"] > 0
    assert (sparse - reference).abs().max().item() <= TOLERANCE
    report = na_accel.describe(transformer, recipe)
    assert report.transformers[0].layers, "dry run lists the layers"


def test_only_self_attention_is_replaced_and_unpatch_is_bit_identical(family):
    name, transformer, make_inputs, processor_class = family
    before = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    inputs = make_inputs(transformer, (3, 4, 5), seed=4)
    stock = run(transformer, inputs)

    na_accel.patch(transformer, _recipe(name, kernel_size=[2, 3, 3]))
    after = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    replaced = {n for n in after if after[n] is not before[n]}
    assert replaced, "some layers became GNA"
    assert all(type(after[n]) is processor_class for n in replaced)
    if name == "hunyuan_video":
        assert all(n.endswith(".attn") and "token_refiner" not in n for n in replaced)
        refiner = [n for n in before if n.startswith("context_embedder.token_refiner")]
        assert refiner and all(after[n] is before[n] for n in refiner)
    else:
        assert all(n.endswith(".attn1") for n in replaced)
        cross = [n for n in before if n.endswith(".attn2")]
        assert cross and all(after[n] is before[n] for n in cross)

    na_accel.unpatch(transformer)
    restored = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    assert all(restored[n] is before[n] for n in before)
    assert torch.equal(run(transformer, inputs), stock)
    assert not transformer._forward_pre_hooks and not transformer._forward_hooks


def test_layer_rules_use_module_names(family):
    name, transformer, make_inputs, _ = family
    first = next(iter(na_accel.describe(transformer, _recipe(name, [2, 2, 2])).transformers[0].layers))
    recipe = _recipe(name, kernel_size=[2, 3, 3], layers=[{"match": first.name, "dense": True}])
    _, totals = run_patched(transformer, make_inputs(transformer, (3, 4, 5), seed=5), recipe)
    layers = na_accel.describe(transformer, recipe).transformers[0].layers
    assert [layer.name for layer in layers if layer.plan.startswith("dense")] == [first.name]
    assert totals["sparse"] == len(layers) - 1


def test_recipe_for_another_family_is_refused(family):
    name, transformer, _, _ = family
    other = "flux" if name != "flux" else "wan"
    with pytest.raises(RecipeError, match="recipe.model"):
        na_accel.patch(transformer, {"model": other, "default": {"kernel_size": [3, 3]}})
    assert not hasattr(transformer, "_na_accel_patch")


def test_unsupported_processor_keeps_layer_stock(family):
    from diffusers.models.attention_processor import AttnProcessor2_0

    name, transformer, make_inputs, _ = family
    layers = na_accel.describe(transformer, _recipe(name, [2, 2, 2])).transformers[0].layers
    module = dict(transformer.named_modules())[layers[0].name]
    original = module.processor
    module.set_processor(AttnProcessor2_0())
    try:
        plan = na_accel.describe(transformer, _recipe(name, [2, 2, 2])).transformers[0].layers
        assert plan[0].plan.startswith("dense") and "not supported" in plan[0].plan
        assert all(layer.plan.startswith("GNA") for layer in plan[1:])
    finally:
        module.set_processor(original)


# --------------------------------------------------------------------------------------------
# HunyuanVideo's padded text
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hunyuan():
    return tiny.tiny_hunyuan_video_transformer(seed=0)


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_hunyuan_padded_text_is_excluded(hunyuan, backend):
    """Changing padded text embeddings must not change the video output (they are never keys)."""
    inputs = _hunyuan_inputs(hunyuan, (3, 4, 5), valid_text_lens=[7, 3], seed=6)
    changed = dict(inputs)
    changed["encoder_hidden_states"] = inputs["encoder_hidden_states"].clone()
    changed["encoder_hidden_states"][1, 3:] += 5.0  # row 1's padding
    recipe = _recipe("hunyuan_video", kernel_size=[2, 3, 3], stride=[1, 2, 1])
    out, _ = run_patched(hunyuan, inputs, recipe, backend=backend)
    out_changed, _ = run_patched(hunyuan, changed, recipe, backend=backend)
    assert (out - out_changed).abs().max().item() <= TOLERANCE
    # ... while row 0, whose text is all valid, does see a change of its text.
    changed["encoder_hidden_states"][0, 6] += 5.0
    out_changed, _ = run_patched(hunyuan, changed, recipe, backend=backend)
    assert (out[0] - out_changed[0]).abs().max().item() > 1e-3


def test_hunyuan_rows_with_different_valid_lengths_match_single_rows(hunyuan):
    inputs = _hunyuan_inputs(hunyuan, (2, 5, 4), valid_text_lens=[7, 2], seed=7)
    recipe = _recipe("hunyuan_video", kernel_size=[2, 3, 2], dilation=[1, 1, 2])
    batched, totals = run_patched(hunyuan, inputs, recipe)
    assert totals["sparse"] > 0
    for row in range(2):
        single = {k: v[row : row + 1] if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        alone, _ = run_patched(hunyuan, single, recipe)
        assert (batched[row] - alone[0]).abs().max().item() <= TOLERANCE


def test_hunyuan_layers_are_dual_and_single_stream(hunyuan):
    layers = na_accel.describe(hunyuan, _recipe("hunyuan_video", [2, 2, 2])).transformers[0].layers
    names = [layer.name for layer in layers]
    config = hunyuan.config
    assert names == [f"transformer_blocks.{i}.attn" for i in range(config.num_layers)] + [
        f"single_transformer_blocks.{i}.attn" for i in range(config.num_single_layers)
    ]


@pytest.mark.parametrize("change", ["shorter text", "masked video key"])
def test_hunyuan_mask_other_than_the_inputs_padding_is_followed(hunyuan, change):
    """A mask changed on its way to a layer (a user hook) is what stock honours there: shorter
    valid text, GNA honours too (== the reference backend under the same hook); a masked video key
    is no padding mask: that layer runs stock, counted."""
    inputs = _hunyuan_inputs(hunyuan, (2, 3, 4), valid_text_lens=[7, 5], seed=8)
    recipe = _recipe("hunyuan_video", kernel_size=[2, 2, 3])
    layer = dict(hunyuan.named_modules())["transformer_blocks.0.attn"]
    layers = len(na_accel.describe(hunyuan, recipe).transformers[0].layers)

    def edit_mask(module, args, kwargs):
        mask = kwargs["attention_mask"].clone()
        n_video = kwargs["hidden_states"].shape[1]
        if change == "shorter text":
            mask[1, ..., n_video + 4] = False  # row 1: 4 valid text tokens, not 5
        else:
            mask[0, ..., 0] = False
        return args, {**kwargs, "attention_mask": mask}

    handle = layer.register_forward_pre_hook(edit_mask, with_kwargs=True)
    try:
        if change == "shorter text":
            out, totals = run_patched(hunyuan, inputs, recipe, backend="flex-fna")
            reference, _ = run_patched(hunyuan, inputs, recipe, backend="reference")
            assert totals == {"sparse": layers} and (out - reference).abs().max().item() <= TOLERANCE
            return
        with pytest.warns(UserWarning, match="transformer_blocks.0.attn ran dense"):
            _, totals = run_patched(hunyuan, inputs, recipe)
    finally:
        handle.remove()
    dense = {k: v for k, v in totals.items() if k.startswith("dense:")}
    assert sum(dense.values()) == 1 and totals["sparse"] == layers - 1
    assert "can't honour" in next(iter(dense))
