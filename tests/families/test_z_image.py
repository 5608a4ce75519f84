"""Z-Image on a tiny random-weight transformer (float32, CPU): the joint [image grid, image pad,
caption] sequence read from the forward's lists, exact against stock with a full window, rows of
different joint lengths (the forward's mask) equal to each row run alone, the refiners and Omni
mode left stock."""

from __future__ import annotations

import copy

import pytest
import torch
from diffusers.models.transformers.transformer_z_image import ZSingleStreamAttnProcessor

import na_accel
from na_accel import tiny
from na_accel.families import family_spec
from na_accel.runtime.seam import RoutedProcessor

GRID = (3, 5)  # 15 image tokens: the forward pads them with 17 pad tokens to 32
CAPTIONS = [40, 7]  # padded to 64 and 32: joint rows of 32 + 64 = 96 and 32 + 32 = 64 tokens


@pytest.fixture(scope="module")
def transformer():
    return tiny.tiny_z_image_transformer(seed=0).requires_grad_(False)


def _inputs(transformer, grid=GRID, captions=CAPTIONS, seed=0):
    return tiny.z_image_transformer_inputs(transformer, grid, batch=len(captions), text_len=max(captions),
                                           valid_text_lens=captions, seed=seed)


def _run(transformer, inputs, recipe=None, backend="reference"):
    """(output rows stacked, totals) of a forward, patched with ``recipe`` (unpatched after) or stock."""
    model = transformer if recipe is None else na_accel.patch(copy.deepcopy(transformer), recipe, backend=backend)
    with torch.no_grad():
        out = torch.stack(model(**inputs).sample)
    return out, (dict(na_accel.describe(model).transformers[0].totals) if recipe is not None else {})


def _recipe(kernel_size, **window):
    return {"model": "z_image", "default": {"kernel_size": kernel_size, **window}}


def test_the_layout_is_the_grid_then_image_pad_and_caption_each_padded_to_32(transformer):
    layout = family_spec("z_image").adapter().token_layout(transformer, (), _inputs(transformer))
    assert layout.grid == GRID and not layout.text_first and layout.problem is None
    assert layout.text_len == 17 + 64 and layout.text_valid_lens == (17 + 64, 17 + 32)


def test_only_the_main_layers_are_routed_the_refiners_stay_stock(transformer):
    patched = na_accel.patch(copy.deepcopy(transformer), _recipe([3, 3]), backend="reference")
    routed = {name for name, module in patched.named_modules() if isinstance(getattr(module, "processor", None),
                                                                              RoutedProcessor)}
    assert routed == {"layers.0.attention", "layers.1.attention"}
    refiners = [m for n, m in patched.named_modules() if "refiner" in n and hasattr(m, "processor")]
    assert refiners and all(type(m.processor) is ZSingleStreamAttnProcessor for m in refiners)


def test_full_window_reproduces_stock_with_rows_of_different_lengths(transformer):
    inputs = _inputs(transformer)
    stock, _ = _run(transformer, inputs)
    out, totals = _run(transformer, inputs, _recipe(4096))
    assert (out - stock).abs().max().item() <= 1e-5
    assert totals == {"full window": 2}


def test_a_masked_row_equals_the_same_row_run_alone(transformer):
    """The shorter row's tail (batch padding) is cut from the keys: each row of the padded batch
    gives what it gives alone (batch 1, no mask), window and all."""
    recipe = _recipe([3, 3], stride=[2, 1], dilation=[1, 2])
    inputs = _inputs(transformer, grid=(5, 7))  # 35 image tokens, 29 pad tokens
    batch, totals = _run(transformer, inputs, recipe)
    assert totals == {"sparse": 2}
    for row in range(len(CAPTIONS)):
        alone = {**inputs, "x": inputs["x"][row:row + 1], "t": inputs["t"][row:row + 1],
                 "cap_feats": inputs["cap_feats"][row:row + 1]}
        single, _ = _run(transformer, alone, recipe)
        assert (batch[row] - single[0]).abs().max().item() <= 1e-5
    stock, _ = _run(transformer, inputs)
    assert (batch - stock).abs().max().item() > 1e-4  # the window is sparse


def test_omni_mode_has_no_single_grid_and_runs_stock_counted(transformer):
    inputs = _inputs(transformer)
    omni = {"x": [[image] for image in inputs["x"]], "cap_feats": [[c] for c in inputs["cap_feats"]]}
    layout = family_spec("z_image").adapter().token_layout(transformer, (), omni)
    assert layout.grid is None and "Omni" in layout.problem


def test_the_tiny_pipeline_leaves_the_callers_prompt_list_as_it_was():
    prompts = ["a red fox", "a red fox in the snow"]
    pipe = tiny.tiny_z_image_pipeline(seed=0)
    pipe(prompt=prompts, num_inference_steps=1, output_type="latent", height=64, width=64)
    assert prompts == ["a red fox", "a red fox in the snow"]


def test_the_modular_pipeline_runs_gna_like_the_classic_one():
    """ZImageAutoBlocks (a ModularPipeline) over the tiny preset's components: patch finds its
    transformer; a full window gives stock's images, a small one runs sparse."""
    from diffusers.modular_pipelines import ZImageAutoBlocks

    from na_accel.pipeline_parts import generated
    from na_accel.tiny._defaults import tiny_modular_pipeline

    components = dict(tiny.tiny_z_image_pipeline(seed=0).components)
    pipe = tiny_modular_pipeline(ZImageAutoBlocks(), components,
                                 {"height": 128, "width": 192, "num_inference_steps": 1, "max_sequence_length": 64})

    def generate():
        # a fresh list each call: the modular text encoder, too, writes the templated prompts into it
        prompts = ["a red fox", "a red fox in the snow under a low winter sun"]
        with torch.no_grad():
            output = pipe(prompt=prompts, generator=torch.Generator().manual_seed(1), output_type="pt")
        return torch.as_tensor(generated(output))

    stock = generate()
    outputs = {}
    for name, window in (("full", 4096), ("sparse", [3, 3])):
        na_accel.patch(pipe, {"model": "z_image", "dense_steps": 0, "default": {"kernel_size": window}},
                       backend="reference")
        try:
            outputs[name] = (generate(), dict(na_accel.describe(pipe).transformers[0].totals))
        finally:
            na_accel.unpatch(pipe)
    assert (outputs["full"][0] - stock).abs().max().item() <= 1e-5 and outputs["full"][1] == {"full window": 2}
    assert (outputs["sparse"][0] - stock).abs().max().item() > 1e-4 and outputs["sparse"][1] == {"sparse": 2}


def test_the_specs_padding_multiple_is_diffusers_own():
    """The spec states SEQ_MULTI_OF once (it shapes inputs without diffusers); the adapter pads with it."""
    from diffusers.models.transformers import transformer_z_image

    from na_accel.families.z_image_spec import SEQ_MULTI_OF, padded

    assert SEQ_MULTI_OF == transformer_z_image.SEQ_MULTI_OF
    assert [padded(n) for n in (1, 32, 33)] == [32, 32, 64]
