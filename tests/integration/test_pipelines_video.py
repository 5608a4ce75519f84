"""The video adapters inside real diffusers pipelines (tiny, offline): dense_steps, CFG, two experts."""

from __future__ import annotations

import warnings

import pytest
import torch

import na_accel
from na_accel.tiny import TINY_PIPELINES

TOLERANCE = 1e-5
STEPS = 3  # EDM (Cosmos) ignores the model at its last of 2 steps: 3 make every step count

# preset: (recipe family, transformer calls per step, patched transformer attributes)
PRESETS = {
    "tiny-hunyuan-video": ("hunyuan_video", 1, ("transformer",)),  # guidance-distilled: no CFG
    "tiny-cosmos": ("cosmos", 2, ("transformer",)),
    "tiny-cosmos2-t2i": ("cosmos", 2, ("transformer",)),  # one latent frame
    "tiny-wan": ("wan", 2, ("transformer",)),
    "tiny-wan2.2": ("wan", 2, ("transformer", "transformer_2")),  # step 0 expert 1, step 1 expert 2
    "tiny-hunyuan-video15": ("hunyuan_video15", 2, ("transformer",)),  # CFG by the guider
}


@pytest.fixture(scope="module", params=sorted(PRESETS))
def preset(request):
    make_pipeline, call_kwargs = TINY_PIPELINES[request.param]
    return request.param, make_pipeline(seed=0), call_kwargs


def _generate(pipe, call_kwargs, seed=0):
    output = pipe(**call_kwargs(steps=STEPS, seed=seed, output_type="latent"))
    result = output.frames if hasattr(output, "frames") else output.images
    return torch.as_tensor(result)


def _counts(pipe):
    totals = {}
    for report in na_accel.describe(pipe).transformers:
        totals[report.attribute] = report.totals
    return totals


def _layers(pipe, recipe):
    return {r.attribute: len(r.layers) for r in na_accel.describe(pipe, recipe).transformers}


def _recipe(family, kernel_size, dense_steps, **window):
    return {"model": family, "dense_steps": dense_steps, "default": {"kernel_size": kernel_size, **window}}


def test_full_window_with_dense_steps_reproduces_stock(preset):
    name, pipe, call_kwargs = preset
    family, calls_per_step, attributes = PRESETS[name]
    stock = _generate(pipe, call_kwargs)
    recipe = _recipe(family, [64, 64, 64], dense_steps=1)  # clamped to every grid: full window
    layers = _layers(pipe, recipe)
    na_accel.patch(pipe, recipe)
    try:
        patched = _generate(pipe, call_kwargs)
        counts = _counts(pipe)
    finally:
        na_accel.unpatch(pipe)
    assert (patched - stock).abs().max().item() <= TOLERANCE
    assert set(counts) == set(attributes)
    if len(attributes) == 1:  # one transformer runs both steps
        (attribute,) = attributes
        dense_key = "dense: dense step (step < dense_steps=1)"
        assert counts[attribute][dense_key] == layers[attribute] * calls_per_step
        assert counts[attribute]["full window"] == layers[attribute] * calls_per_step * (STEPS - 1)
    else:  # Wan 2.2: the first expert runs the high-noise steps (incl. dense step 0), the second the rest
        dense_key = "dense: dense step (step < dense_steps=1)"
        assert counts["transformer"][dense_key] == layers["transformer"] * calls_per_step
        assert counts["transformer_2"]["full window"] > 0 and dense_key not in counts["transformer_2"]
        calls = sum(sum(c.values()) for c in counts.values())
        assert calls == layers["transformer"] * calls_per_step * STEPS  # every call counted once


def test_sparse_window_matches_reference_in_pipeline(preset):
    name, pipe, call_kwargs = preset
    family, calls_per_step, attributes = PRESETS[name]
    recipe = _recipe(family, [2, 3, 3], dense_steps=1, stride=[1, 2, 1])
    outputs = {}
    for backend in ("auto", "reference"):
        na_accel.patch(pipe, recipe, backend=backend)
        try:
            with warnings.catch_warnings():
                # no fallback warning: nothing ran dense by surprise
                warnings.filterwarnings("error", message="na_accel:")
                outputs[backend] = _generate(pipe, call_kwargs, seed=1)
            counts = _counts(pipe)
        finally:
            na_accel.unpatch(pipe)
        last = attributes[-1]
        assert counts[last]["sparse"] > 0
        assert not any(k.startswith("dense:") and "dense step" not in k for c in counts.values() for k in c)
    stock = _generate(pipe, call_kwargs, seed=1)
    assert (outputs["auto"] - outputs["reference"]).abs().max().item() <= TOLERANCE
    assert (outputs["auto"] - stock).abs().max().item() > 1e-4  # GNA changed the generation


def test_patch_unpatch_leaves_pipeline_bit_identical(preset):
    name, pipe, call_kwargs = preset
    family, _, attributes = PRESETS[name]
    before = _generate(pipe, call_kwargs, seed=2)
    na_accel.patch(pipe, _recipe(family, [2, 2, 2], dense_steps=0))
    assert all(hasattr(getattr(pipe, a), "_na_accel_patch") for a in attributes)
    na_accel.unpatch(pipe)
    assert torch.equal(_generate(pipe, call_kwargs, seed=2), before)


@pytest.mark.parametrize("name", ["hunyuan_video_gna", "cosmos_gna", "wan_gna", "hunyuan_video15_gna"])
def test_shipped_video_recipes_plan_on_their_pipelines(name):
    recipe = na_accel.load_recipe(name)
    preset = {"hunyuan_video": "tiny-hunyuan-video", "cosmos": "tiny-cosmos", "wan": "tiny-wan2.2",
              "hunyuan_video15": "tiny-hunyuan-video15"}[recipe.model]
    pipe = TINY_PIPELINES[preset][0](seed=0)
    for report in na_accel.describe(pipe, recipe).transformers:
        assert report.layers and all(layer.plan.startswith("GNA") for layer in report.layers)
