"""FLUX through na_accel.patch: exact against stock (full window) and the reference (sparse)."""

import inspect

import pytest
import torch
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

import na_accel

from na_accel.runtime.seam import routed_class

from na_accel.tiny import flux_transformer_inputs
from helpers.flux_runs import run_flux_pipe, run_flux_transformer
from helpers.sample_recipes import window_recipe

GNAFluxAttnProcessor = routed_class(FluxAttnProcessor)

def max_diff(a, b):
    return (a - b).abs().max().item()

def totals(obj):
    return na_accel.describe(obj).transformers[0].totals

# --- full window reproduces stock --------------------------------------------------------------

def test_oversized_window_is_clamped_to_the_grid(flux_pipe):
    stock = run_flux_pipe(flux_pipe, steps=1, cfg=False)
    na_accel.patch(flux_pipe, "flux_gna")  # 80x80 window on a 5x7 grid: dense along both axes
    patched = run_flux_pipe(flux_pipe, steps=1, cfg=False)
    assert max_diff(patched, stock) <= 1e-5
    layer = na_accel.describe(flux_pipe).transformers[0].layers[0]
    assert layer.full_window_calls == 1
    assert "clamped to grid on axes [0, 1]" in layer.last_window

# --- sparse windows match the reference backend -------------------------------------------------

@pytest.mark.parametrize("height,width,recipe", [
    (6, 8, window_recipe([3, 5], stride=[3, 2], dilation=[2, 1])),  # even grid
    (7, 3, window_recipe([2, 2], stride=[2, 1])),  # odd grid, even window
])
def test_sparse_transformer_matches_reference(flux_transformer, height, width, recipe):
    na_accel.patch(flux_transformer, recipe)
    sparse = run_flux_transformer(flux_transformer, height, width, batch=2)
    na_accel.unpatch(flux_transformer)
    na_accel.patch(flux_transformer, recipe, backend="reference")
    reference = run_flux_transformer(flux_transformer, height, width, batch=2)
    assert max_diff(sparse, reference) <= 1e-5

def test_positional_call_finds_the_grid(flux_transformer):
    na_accel.patch(flux_transformer, window_recipe(3))
    inputs = flux_transformer_inputs(5, 5, batch=1)
    order = ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "img_ids", "txt_ids", "guidance"]
    with torch.no_grad():
        flux_transformer(*(inputs[name] for name in order))
    assert totals(flux_transformer) == {"sparse": 4}

# --- layouts that are not a grid fall back to dense, counted and warned -------------------------

def test_image_tokens_beyond_their_ids_fall_back_to_dense(flux_transformer):
    """More image tokens than img_ids describe: no layout to trust, so every GNA layer runs stock."""
    inputs = flux_transformer_inputs(4, 4, batch=1)
    inputs["hidden_states"] = torch.cat([inputs["hidden_states"], inputs["hidden_states"][:, :4]], dim=1)
    inputs["img_ids"] = torch.cat([inputs["img_ids"], inputs["img_ids"][:4]])  # rows 0 again: no 4x4 grid
    with torch.no_grad():
        stock = flux_transformer(**inputs).sample
    na_accel.patch(flux_transformer, window_recipe(3))
    with pytest.warns(UserWarning, match="ran dense attention: no token grid"):
        with torch.no_grad():
            patched = flux_transformer(**inputs).sample
    assert torch.equal(patched, stock)
    (reason, count), = na_accel.describe(flux_transformer).transformers[0].layers[0].dense_calls.items()
    assert count == 1 and "don't form the 4x4 grid" in reason
    assert totals(flux_transformer)["sparse"] == 0

def test_shuffled_ids_are_not_a_grid(flux_transformer):
    inputs = flux_transformer_inputs(3, 4, batch=1)
    inputs["img_ids"] = inputs["img_ids"].flip(0)
    with torch.no_grad():
        stock = flux_transformer(**inputs).sample
    na_accel.patch(flux_transformer, window_recipe(2))
    with pytest.warns(UserWarning, match="not a row-major"):
        with torch.no_grad():
            patched = flux_transformer(**inputs).sample
    assert torch.equal(patched, stock)  # the fallback ran the stock processor
    layers = na_accel.describe(flux_transformer).transformers[0].layers
    for layer in layers:  # and every layer counted its dense call
        (reason, count), = layer.dense_calls.items()
        assert count == 1 and "not a row-major" in reason, (layer.name, layer.dense_calls)
    assert totals(flux_transformer)["sparse"] == 0

# --- the processor keeps the stock interface ----------------------------------------------------

def test_processor_keeps_stock_call_parameters(flux_transformer):
    stock = inspect.signature(FluxAttnProcessor.__call__).parameters
    ours = inspect.signature(GNAFluxAttnProcessor.__call__).parameters
    assert list(ours) == list(stock)

def test_set_attention_backend_while_patched_survives_unpatch(flux_transformer):
    stock = flux_transformer.transformer_blocks[0].attn.processor
    na_accel.patch(flux_transformer, window_recipe(3))
    processor = flux_transformer.transformer_blocks[0].attn.processor
    assert isinstance(processor, GNAFluxAttnProcessor)
    flux_transformer.set_attention_backend("native")
    assert processor._attention_backend == "native"
    na_accel.unpatch(flux_transformer)
    assert flux_transformer.transformer_blocks[0].attn.processor is stock  # the stock object itself, back
    assert stock._attention_backend == "native"  # with what was set while patched

def test_unsupported_processor_stays_and_is_reported(flux_transformer):
    class CustomProcessor(FluxAttnProcessor):
        pass

    custom = CustomProcessor()
    flux_transformer.transformer_blocks[1].attn.set_processor(custom)
    na_accel.patch(flux_transformer, window_recipe(3))
    assert flux_transformer.transformer_blocks[1].attn.processor is custom
    layer = na_accel.describe(flux_transformer).transformers[0].layers[1]
    assert layer.name == "transformer_blocks.1.attn"
    assert layer.plan.startswith("dense: processor CustomProcessor is not supported")
