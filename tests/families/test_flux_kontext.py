"""FLUX.1 Kontext through na_accel.patch: the reference image is a second token grid.

Each grid's queries see their neighborhood in their own grid, the text and every token of the
other grid (README, "Reference images"). Checked on the real FluxKontextPipeline (tiny, offline)
against stock (full window) and the explicit-mask ``reference`` backend (sparse), at odd grids
of different sizes with stride and dilation, batch 2 with true CFG.
"""

import pytest
import torch

import na_accel
from na_accel.tiny import flux_transformer_inputs, tiny_flux_kontext_pipeline, tiny_flux_prompt, tiny_reference_image
from helpers.sample_recipes import window_recipe

OUTPUT = (80, 112)  # pixels -> a 5x7 token grid
REFERENCE = (112, 80)  # the reference image -> a 7x5 token grid


def run_kontext(pipe, *, steps=2, batch=2, cfg=True, reference=REFERENCE):
    kwargs = dict(tiny_flux_prompt(seed=1, batch=batch).as_kwargs())
    if cfg:
        kwargs.update(tiny_flux_prompt(seed=2, batch=batch).as_kwargs("negative_"))
        kwargs["true_cfg_scale"] = 2.0
    height, width = OUTPUT
    with torch.no_grad():
        return pipe(
            image=tiny_reference_image(*reference, seed=3, batch=batch), height=height, width=width,
            num_inference_steps=steps, generator=torch.Generator().manual_seed(0), output_type="pt", **kwargs,
        ).images


@pytest.fixture
def kontext_pipe():
    return tiny_flux_kontext_pipeline(seed=0)


def layer_reports(pipe):
    return na_accel.describe(pipe).transformers[0].layers


def test_dense_steps_and_unpatch(kontext_pipe):
    stock = run_kontext(kontext_pipe, batch=1, cfg=False, steps=3)
    na_accel.patch(kontext_pipe, window_recipe([3, 3], dense_steps=2))
    run_kontext(kontext_pipe, batch=1, cfg=False, steps=3)
    layer = layer_reports(kontext_pipe)[0]
    assert layer.sparse_calls == 1 and sum(layer.dense_calls.values()) == 2
    assert all("dense step" in reason for reason in layer.dense_calls)
    na_accel.unpatch(kontext_pipe)
    assert torch.equal(run_kontext(kontext_pipe, batch=1, cfg=False, steps=3), stock)


def _kontext_transformer_inputs(reference_ids):
    inputs = flux_transformer_inputs(4, 5, batch=2, seed=4)
    inputs["img_ids"] = torch.cat([inputs["img_ids"], reference_ids])
    extra = torch.randn(2, reference_ids.shape[0], inputs["hidden_states"].shape[2], generator=torch.Generator().manual_seed(5))
    inputs["hidden_states"] = torch.cat([inputs["hidden_states"], extra], dim=1)
    return inputs


def _reference_ids(height, width):
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    return torch.stack([torch.ones_like(rows), rows, cols], dim=1).float()


def test_bare_transformer_with_a_reference_grid_matches_the_reference_backend(flux_transformer):
    inputs = _kontext_transformer_inputs(_reference_ids(3, 6))
    outputs = {}
    for backend in ("flex-fna", "reference"):
        na_accel.patch(flux_transformer, window_recipe([2, 3], stride=[1, 2]), backend=backend)
        with torch.no_grad():
            outputs[backend] = flux_transformer(**inputs).sample
        assert na_accel.describe(flux_transformer).transformers[0].totals == {"sparse": 4}
        na_accel.unpatch(flux_transformer)
    assert (outputs["flex-fna"] - outputs["reference"]).abs().max().item() <= 1e-5


def test_reference_ids_that_are_no_grid_run_stock_and_say_which_image(flux_transformer):
    inputs = _kontext_transformer_inputs(_reference_ids(3, 6).flip(0))
    with torch.no_grad():
        stock = flux_transformer(**inputs).sample
    na_accel.patch(flux_transformer, window_recipe(2))
    with pytest.warns(UserWarning, match="reference image 1"):
        with torch.no_grad():
            patched = flux_transformer(**inputs).sample
    assert torch.equal(patched, stock)
    (reason, count), = layer_reports(flux_transformer)[0].dense_calls.items()
    assert count == 1 and "reference image 1 (tokens 20..37): img_ids are not a row-major" in reason
