"""FLUX.2 through na_accel.patch: exact against stock (full window) and the reference (sparse), inside the
tiny Flux2Pipeline (Mistral 3, guidance-distilled) and Flux2KleinPipeline (Qwen 3, true CFG)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers.models.transformers.transformer_flux2 import Flux2AttnProcessor, Flux2ParallelSelfAttnProcessor

import na_accel
from na_accel.families import flux2 as flux2_family
from na_accel.families import flux2_spec
from na_accel.families.registry import family_spec
from na_accel.families.image_ids import grids_from_img_ids
from na_accel.runtime.seam import routed_class

from na_accel.tiny import flux2_transformer_inputs, tiny_flux2_klein_pipeline, tiny_flux2_pipeline, tiny_flux2_transformer

GNAFlux2AttnProcessor = routed_class(Flux2AttnProcessor)
GNAFlux2ParallelSelfAttnProcessor = routed_class(Flux2ParallelSelfAttnProcessor)

TOLERANCE = 1e-5
PROMPTS = ["a red fox", "a big grey cat asleep on a stove"]  # batch 2, prompts of different lengths
PRESETS = {"tiny-flux2": (tiny_flux2_pipeline, 1), "tiny-flux2-klein": (tiny_flux2_klein_pipeline, 2)}  # calls/step
LAYERS = 4  # 2 double- + 2 single-stream blocks


@pytest.fixture(params=sorted(PRESETS))
def preset(request):
    make, calls_per_step = PRESETS[request.param]
    pipe = make(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe, calls_per_step


@pytest.fixture
def klein():
    return tiny_flux2_klein_pipeline(seed=0)


@pytest.fixture
def transformer():
    return tiny_flux2_transformer(seed=0)


def generate(pipe, steps=2, height=80, width=112, **kwargs):
    """80x112 pixels -> an odd 5x7 token grid; batch 2; latents out (no VAE decode)."""
    return pipe(prompt=PROMPTS, height=height, width=width, num_inference_steps=steps, output_type="latent",
                generator=torch.Generator().manual_seed(0), **kwargs).images


def run(transformer, inputs):
    with torch.no_grad():
        return transformer(**inputs).sample


def recipe(kernel_size, stride=1, dilation=1, **extra):
    return {"model": "flux2", "default": {"kernel_size": kernel_size, "stride": stride, "dilation": dilation}, **extra}


def totals(obj):
    return na_accel.describe(obj).transformers[0].totals


def max_diff(a, b):
    return (a - b).abs().max().item()


def reference_image(height=64, width=96, seed=0):
    """A random picture; 16 pixels per token after the pipelines' VAE and 2x2 patches (64x96: a 4x6 grid)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return PIL.Image.fromarray(pixels)


# --- sparse windows match the reference backend (full window == stock: tests/integration/) ------


@pytest.mark.parametrize("grid, window", [
    ((6, 8), recipe([3, 5], stride=[3, 2], dilation=[2, 1])),  # even grid
    ((7, 3), recipe([2, 2], stride=[2, 1])),  # odd grid, even window
])
def test_sparse_transformer_matches_reference(transformer, grid, window):
    inputs = flux2_transformer_inputs(transformer, grid, batch=2, text_len=5, seed=2)
    na_accel.patch(transformer, window)
    sparse = run(transformer, inputs)
    na_accel.unpatch(transformer)
    na_accel.patch(transformer, window, backend="reference")
    assert max_diff(sparse, run(transformer, inputs)) <= TOLERANCE


@pytest.mark.slow
def test_dense_steps_count_both_cfg_calls_of_a_step(klein):
    window = recipe([3, 3], stride=[2, 2], dense_steps=1)
    na_accel.patch(klein, window)
    sparse = generate(klein, steps=3)
    counts = totals(klein)
    assert counts["dense: dense step (step < dense_steps=1)"] == 1 * 2 * LAYERS  # step 0, cond + uncond
    assert counts["sparse"] == 2 * 2 * LAYERS
    na_accel.unpatch(klein)
    na_accel.patch(klein, window, backend="reference")
    assert max_diff(sparse, generate(klein, steps=3)) <= TOLERANCE


# --- what GNA replaces, and unpatch -------------------------------------------------------------


def test_only_planned_layers_change_and_unpatch_is_bit_identical(klein):
    module_processors = lambda: {n: m.processor for n, m in klein.transformer.named_modules()  # noqa: E731
                                 if hasattr(m, "processor")}
    before = module_processors()
    stock = generate(klein)
    na_accel.patch(klein, recipe([2, 3], layers=[{"match": "transformer_blocks.0.attn", "dense": True}]))
    after = module_processors()
    replaced = {n for n in after if after[n] is not before[n]}
    assert replaced == {"transformer_blocks.1.attn", "single_transformer_blocks.0.attn",
                        "single_transformer_blocks.1.attn"}
    assert type(after["transformer_blocks.1.attn"]) is GNAFlux2AttnProcessor
    assert type(after["single_transformer_blocks.0.attn"]) is GNAFlux2ParallelSelfAttnProcessor
    generate(klein, steps=1)
    na_accel.unpatch(klein)
    assert all(module_processors()[n] is before[n] for n in before)
    assert torch.equal(generate(klein), stock)
    assert not klein.transformer._forward_pre_hooks and not klein.transformer._forward_hooks


def test_processors_keep_stock_call_parameters():
    for stock in family_spec("flux2").adapter().processors:
        gna = routed_class(stock)
        assert list(inspect.signature(gna.__call__).parameters) == list(inspect.signature(stock.__call__).parameters)


def test_unsupported_processor_stays_and_is_reported(transformer):
    class CustomProcessor(Flux2AttnProcessor):
        pass

    custom = CustomProcessor()
    transformer.transformer_blocks[1].attn.set_processor(custom)
    na_accel.patch(transformer, recipe(3))
    assert transformer.transformer_blocks[1].attn.processor is custom
    layer = na_accel.describe(transformer).transformers[0].layers[1]
    assert layer.name == "transformer_blocks.1.attn"
    assert layer.plan.startswith("dense: processor CustomProcessor is not supported")


def test_positional_call_finds_the_grid(transformer):
    inputs = flux2_transformer_inputs(transformer, (5, 5), text_len=4)
    order = ["hidden_states", "encoder_hidden_states", "timestep", "img_ids", "txt_ids", "guidance"]
    na_accel.patch(transformer, recipe(3))
    with torch.no_grad():
        transformer(*(inputs[name] for name in order))
    assert totals(transformer) == {"sparse": LAYERS}


# --- text padding: the pipelines pass no mask, so padded text is a key, as in stock ---------------


def test_pipelines_pad_text_without_a_mask(preset):
    pipe, _ = preset
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(lambda m, a, kw: seen.append(kw), with_kwargs=True)
    try:
        generate(pipe, steps=1)
    finally:
        handle.remove()
    parameters = inspect.signature(type(pipe.transformer).forward).parameters
    assert not any("mask" in name for name in parameters)  # the transformer takes no attention mask at all
    assert all(kwargs["encoder_hidden_states"].shape[:2] == (2, 32) for kwargs in seen)  # padded to 32 tokens
    assert not seen[0].get("joint_attention_kwargs")


def test_padded_text_stays_a_key_as_in_stock(transformer):
    inputs = flux2_transformer_inputs(transformer, (5, 6), batch=2, text_len=8, seed=3)
    changed = dict(inputs, encoder_hidden_states=inputs["encoder_hidden_states"].clone())
    changed["encoder_hidden_states"][1, 5:] += 5.0  # row 1's trailing text, as padding would be
    window = recipe([3, 3], stride=[1, 2])
    na_accel.patch(transformer, window)
    sparse, sparse_changed = run(transformer, inputs), run(transformer, changed)
    na_accel.unpatch(transformer)
    stock, stock_changed = run(transformer, inputs), run(transformer, changed)
    na_accel.patch(transformer, window, backend="reference")
    assert max_diff(sparse_changed, run(transformer, changed)) <= TOLERANCE
    # the stock model attends to those tokens, and so does GNA: row 1 changes, row 0 does not
    for out, out_changed in ((stock, stock_changed), (sparse, sparse_changed)):
        assert max_diff(out[1], out_changed[1]) > 1e-3 and max_diff(out[0], out_changed[0]) == 0


# --- layouts that are not one row-major grid run stock, counted and warned -----------------------


@pytest.mark.slow
@pytest.mark.parametrize("name, images", [
    ("tiny-flux2", [reference_image(64, 96)]),  # editing: a 4x6 reference grid (img_ids t = 10)
    ("tiny-flux2-klein", [reference_image(64, 96), reference_image(96, 80, seed=1)]),  # multi-reference, CFG
])
def test_reference_images_are_grids_of_their_own(name, images):
    """The reference images' grids follow the generated 5x7 image's: each grid runs GNA (plus the text and
    every token of the other images) and matches the reference backend; a window covering every grid is stock."""
    make, calls_per_step = PRESETS[name]
    pipe = make(seed=0)
    stock = generate(pipe, image=images)
    na_accel.patch(pipe, recipe([6, 7]))  # covers 5x7, 4x6 and 6x5
    assert max_diff(generate(pipe, image=images), stock) <= TOLERANCE
    assert totals(pipe) == {"full window": 2 * calls_per_step * LAYERS}
    na_accel.unpatch(pipe)
    outputs = {}
    for backend in ("auto", "reference"):
        na_accel.patch(pipe, recipe([3, 2], stride=[2, 1], dilation=[1, 2]), backend=backend)
        outputs[backend] = generate(pipe, image=images)
        layers = na_accel.describe(pipe).transformers[0].layers
        assert all(layer.sparse_calls == 2 * calls_per_step and not layer.dense_calls for layer in layers)
        references = [window.rsplit(" at grid ", 1)[1] for window in layers[0].ran_reference_windows]
        assert layers[0].ran_window.endswith("at grid 5x7") and references == ["4x6", "6x5"][:len(images)]
        na_accel.unpatch(pipe)
    assert max_diff(outputs["auto"], outputs["reference"]) <= TOLERANCE
    assert max_diff(outputs["auto"], stock) > 1e-4


def test_reference_ids_that_are_no_grid_run_stock_and_say_which_image(transformer):
    inputs = flux2_transformer_inputs(transformer, (3, 4), text_len=4)
    reference = flux2_spec.image_ids(2, 3, t=10).flip(0)[None]  # a reference image's ids, reversed
    inputs["img_ids"] = torch.cat([inputs["img_ids"], reference], dim=1)
    inputs["hidden_states"] = torch.cat([inputs["hidden_states"], inputs["hidden_states"][:, :6]], dim=1)
    stock = run(transformer, inputs)
    na_accel.patch(transformer, recipe(2))
    with pytest.warns(UserWarning, match="reference image 1"):
        patched = run(transformer, inputs)
    assert torch.equal(patched, stock)
    (reason, count), = na_accel.describe(transformer).transformers[0].layers[0].dense_calls.items()
    assert count == 1 and "reference image 1 (img_ids t = 10, tokens 12..17): (h, w) ids are not a row-major" in reason


def test_ids_that_are_not_a_grid_run_stock(transformer):
    inputs = flux2_transformer_inputs(transformer, (3, 4), text_len=4)
    inputs["img_ids"] = inputs["img_ids"].flip(1)  # tokens in reverse order
    stock = run(transformer, inputs)
    na_accel.patch(transformer, recipe(2))
    with pytest.warns(UserWarning, match="not a row-major 3x4 grid"):
        patched = run(transformer, inputs)
    assert torch.equal(patched, stock)
    for layer in na_accel.describe(transformer).transformers[0].layers:
        (reason, count), = layer.dense_calls.items()
        assert count == 1 and "the generated image (img_ids t = 0, tokens 0..11)" in reason


def test_the_grid_is_read_once_per_generation(klein, monkeypatch):
    reads = []
    original = flux2_family.grids_from_img_ids
    monkeypatch.setattr(flux2_family, "grids_from_img_ids", lambda ids: reads.append(ids.shape) or original(ids))
    na_accel.patch(klein, recipe([5, 7]))
    generate(klein, steps=3)  # 6 transformer calls (CFG) on one img_ids tensor
    assert reads == [(35, 4)] and totals(klein) == {"full window": 6 * LAYERS}


@pytest.mark.slow
def test_klein_kv_pipeline_runs_gna_without_references_and_stock_with_its_cache(klein):
    from diffusers import Flux2KleinKVPipeline

    pipe = Flux2KleinKVPipeline(scheduler=klein.scheduler, vae=klein.vae, text_encoder=klein.text_encoder,
                                tokenizer=klein.tokenizer, transformer=klein.transformer)
    pipe.set_progress_bar_config(disable=True)
    kwargs = dict(text_encoder_out_layers=(1, 2, 3), max_sequence_length=32)
    window = recipe([3, 3], stride=[2, 1])
    stock = generate(pipe, steps=3, image=reference_image(), **kwargs)
    na_accel.patch(pipe, window)
    assert {type(m.processor).__name__ for _, m in family_spec("flux2").adapter().attention_layers(pipe.transformer)} \
        == {"GNAFlux2KVAttnProcessor", "GNAFlux2KVParallelSelfAttnProcessor"}
    sparse = generate(pipe, **kwargs)  # no reference image: no KV cache, plain joint attention
    assert totals(pipe) == {"sparse": 2 * LAYERS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = generate(pipe, steps=3, image=reference_image(), **kwargs)
    assert torch.equal(cached, stock)  # step 0 extracts the cache, steps 1-2 use it: all stock
    dense = {reason: n for reason, n in totals(pipe).items() if reason.startswith("dense")}
    assert dense == {f"dense: no token grid: {flux2_family.kv_cache_reason('extract')}": LAYERS,
                     f"dense: no token grid: {flux2_family.kv_cache_reason('cached')}": 2 * LAYERS}
    na_accel.unpatch(pipe)
    na_accel.patch(pipe, window, backend="reference")
    assert max_diff(sparse, generate(pipe, **kwargs)) <= TOLERANCE


def test_image_grids_reads_each_image_in_token_order():
    ids = torch.cat([flux2_spec.image_ids(5, 7), flux2_spec.image_ids(4, 6, t=10), flux2_spec.image_ids(1, 3, t=20)])
    assert grids_from_img_ids(ids) == grids_from_img_ids(ids.float()) == ((5, 7), (4, 6), (1, 3))
    assert grids_from_img_ids(ids.float() + 0.5) == "img_ids are not integer positions"
    assert grids_from_img_ids(ids[:, :3]) == "img_ids of shape (62, 3) are not (tokens, 4) positions (t, h, w, l)"
    assert grids_from_img_ids(ids[1:]) == ("the generated image (img_ids t = 0, tokens 0..33): 34 tokens don't form "
                                    "the 5x7 grid their (h, w) ids span")
    layered = ids.clone()
    layered[40, 3] = 1
    assert grids_from_img_ids(layered) == "reference image 1 (img_ids t = 10, tokens 35..58): the l ids differ within the image"
