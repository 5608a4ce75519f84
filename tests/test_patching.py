"""patch / unpatch / describe: per-layer rules, dense_steps, restoring, errors that change nothing."""

import json

import pytest
import torch

import na_accel
from na_accel.patching import STATE_ATTRIBUTE, patches_of
from na_accel.tiny import flux_transformer_inputs
from helpers.flux_runs import run_flux_pipe
from helpers.patch_state import assert_untouched, processors
from helpers.sample_recipes import window_recipe

SPARSE = window_recipe([3, 4], stride=[2, 3])


def layer_reports(obj):
    return {layer.name: layer for layer in na_accel.describe(obj).transformers[0].layers}


# --- unpatch ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_unpatch_is_bit_identical(flux_pipe):
    before = processors(flux_pipe.transformer)
    stock = run_flux_pipe(flux_pipe)
    assert na_accel.patch(flux_pipe, SPARSE) is flux_pipe
    assert not torch.equal(run_flux_pipe(flux_pipe), stock)
    assert na_accel.unpatch(flux_pipe) is flux_pipe
    assert_untouched(flux_pipe.transformer, before)
    assert torch.equal(run_flux_pipe(flux_pipe), stock)


def test_patch_unpatch_patch(flux_pipe):
    na_accel.patch(flux_pipe, SPARSE)
    first = run_flux_pipe(flux_pipe, steps=1)
    na_accel.unpatch(flux_pipe)
    na_accel.patch(flux_pipe, SPARSE)
    assert torch.equal(run_flux_pipe(flux_pipe, steps=1), first)


def test_double_patch_raises_and_keeps_the_first_patch(flux_pipe):
    na_accel.patch(flux_pipe, SPARSE)
    patched = processors(flux_pipe.transformer)
    with pytest.raises(na_accel.PatchStateError, match="already patched.*unpatch"):
        na_accel.patch(flux_pipe, "flux_gna")
    assert processors(flux_pipe.transformer) == patched


def test_unpatch_of_unpatched_raises(flux_pipe):
    with pytest.raises(na_accel.PatchStateError, match="not patched"):
        na_accel.unpatch(flux_pipe)


# --- errors leave the pipeline unchanged --------------------------------------------------------


@pytest.mark.parametrize("recipe,backend,error,message", [
    ({"model": "flux", "default": {"kernel_size": 1}}, "auto", na_accel.RecipeError, r"kernel_size.*>= 2, got 1"),
    ({"model": "hunyuan_video", "default": {"kernel_size": 3}}, "auto", na_accel.RecipeError, r"recipe.model"),
    (SPARSE, "hopper-fna", na_accel.BackendUnavailableError, r"hopper-fna.*libnatten"),
    (SPARSE, "cudnn", na_accel.ArgumentError, r"unknown backend 'cudnn'"),
    ({**SPARSE, "dense_steps": -1}, "auto", na_accel.RecipeError, r"dense_steps.*-1"),
    ("flux_gan", "auto", na_accel.RecipeError, r"unknown shipped recipe 'flux_gan'.*flux_gna"),
])
def test_errors_change_nothing(flux_pipe, recipe, backend, error, message):
    before = processors(flux_pipe.transformer)
    with pytest.raises(error, match=message):
        na_accel.patch(flux_pipe, recipe, backend=backend)
    assert_untouched(flux_pipe.transformer, before)


def test_dense_steps_on_a_bare_transformer_is_an_error(flux_transformer):
    with pytest.raises(na_accel.RecipeError, match="dense_steps: 2 needs the denoising step.*patch the pipeline.*scheduler=<the scheduler your loop steps>"):
        na_accel.patch(flux_transformer, {**SPARSE, "dense_steps": 2})
    assert not hasattr(flux_transformer, STATE_ATTRIBUTE)


def test_a_bare_transformer_reads_its_step_from_the_scheduler_given(flux_transformer):
    """A user's own loop: na_accel.patch(transformer, ..., scheduler=s) reads s.step_index per call."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler()
    scheduler.set_timesteps(3)
    na_accel.patch(flux_transformer, {**SPARSE, "dense_steps": 1}, scheduler=scheduler)
    inputs = flux_transformer_inputs(5, 7, 1, 8, 0)
    latents = inputs.pop("hidden_states")
    with torch.no_grad():
        for t in scheduler.timesteps:  # the loop a user writes: one transformer call per step
            noise = flux_transformer(hidden_states=latents, **inputs).sample
            latents = scheduler.step(noise, t, latents).prev_sample
    for layer in layer_reports(flux_transformer).values():
        assert layer.dense_calls == {"dense step (step < dense_steps=1)": 1} and layer.sparse_calls == 2


def test_a_plain_object_with_step_index_stands_in_for_a_scheduler(flux_transformer):
    class Loop:  # a hand-written sampler that keeps its own step count
        step_index, timesteps = 0, [0.9, 0.5, 0.1]

    loop = Loop()
    na_accel.patch(flux_transformer, {**SPARSE, "dense_final_steps": 1}, scheduler=loop)
    inputs = flux_transformer_inputs(5, 7, 1, 8, 0)
    with torch.no_grad():
        for loop.step_index in range(3):
            flux_transformer(**inputs)
    for layer in layer_reports(flux_transformer).values():
        assert layer.sparse_calls == 2
        assert sum(layer.dense_calls.values()) == 1 and "dense_final_steps" in next(iter(layer.dense_calls))


def test_a_scheduler_without_step_index_is_refused_naming_the_field(flux_transformer):
    with pytest.raises(na_accel.RecipeError, match=r"recipe\.dense_steps: 2 needs scheduler\.step_index, which object"):
        na_accel.patch(flux_transformer, {**SPARSE, "dense_steps": 2}, scheduler=object())
    assert not hasattr(flux_transformer, STATE_ATTRIBUTE)


@pytest.mark.parametrize("obj", [torch.nn.Linear(2, 2), "a string", object()])
def test_unsupported_objects_name_the_supported_models(obj):
    with pytest.raises(na_accel.UnsupportedModelError, match="FluxTransformer2DModel.*'flux'"):
        na_accel.patch(obj, SPARSE)


def test_compiled_transformer_is_patched_through_its_wrapper(flux_transformer):
    compiled = torch.compile(flux_transformer)  # not run: wrapping only
    na_accel.patch(compiled, SPARSE)
    assert hasattr(flux_transformer, STATE_ATTRIBUTE)
    na_accel.unpatch(compiled)
    assert not hasattr(flux_transformer, STATE_ATTRIBUTE)


def test_pipeline_without_transformer_is_unsupported():
    class UNetPipeline:
        components = {"unet": torch.nn.Linear(2, 2), "transformer": None}

    with pytest.raises(na_accel.UnsupportedModelError, match="(?s)UNetPipeline has no 'transformer'.*FluxTransformer2DModel"):
        na_accel.patch(UNetPipeline(), SPARSE)


# --- per-layer rules ----------------------------------------------------------------------------


def test_layer_rules_choose_per_layer(flux_pipe):
    recipe = window_recipe([3, 4], stride=[2, 3], layers=[
        {"match": "transformer_blocks.0.attn", "dense": True},
        {"match": "re:single_transformer_blocks\\.1\\..*", "kernel_size": [5, 7]},
    ])
    original = processors(flux_pipe.transformer)
    na_accel.patch(flux_pipe, recipe)
    now = processors(flux_pipe.transformer)
    assert now["transformer_blocks.0.attn"] is original["transformer_blocks.0.attn"]  # dense layer untouched
    assert now["transformer_blocks.1.attn"] is not original["transformer_blocks.1.attn"]
    run_flux_pipe(flux_pipe)  # 2 steps x 2 CFG calls
    layers = layer_reports(flux_pipe)
    assert layers["transformer_blocks.0.attn"].plan.startswith("dense: recipe layers[0]")
    assert layers["transformer_blocks.0.attn"].sparse_calls == 0
    assert layers["transformer_blocks.1.attn"].sparse_calls == 4
    assert layers["single_transformer_blocks.0.attn"].sparse_calls == 4
    assert "window 3x4 stride 2x3" in layers["single_transformer_blocks.0.attn"].last_window
    assert layers["single_transformer_blocks.1.attn"].full_window_calls == 4  # 5x7 window = 5x7 grid


def test_all_layers_dense_by_rule_is_stock(flux_pipe):
    stock = run_flux_pipe(flux_pipe, steps=1)
    na_accel.patch(flux_pipe, {"model": "flux", "default": {"kernel_size": 3},
                               "layers": [{"match": "*", "dense": True}]})
    assert torch.equal(run_flux_pipe(flux_pipe, steps=1), stock)
    report = na_accel.describe(flux_pipe).transformers[0]
    assert report.backend is None and all(layer.plan.startswith("dense") for layer in report.layers)


# --- dense_steps --------------------------------------------------------------------------------


@pytest.mark.slow
def test_dense_steps_with_cfg_count_steps_not_calls(flux_pipe):
    na_accel.patch(flux_pipe, {**SPARSE, "dense_steps": 1})
    run_flux_pipe(flux_pipe, steps=3)  # true CFG: 2 transformer calls per step
    for layer in layer_reports(flux_pipe).values():
        assert layer.dense_calls == {"dense step (step < dense_steps=1)": 2}
        assert layer.sparse_calls == 4
    run_flux_pipe(flux_pipe, steps=3)  # a second call starts again at step 0
    for layer in layer_reports(flux_pipe).values():
        assert layer.dense_calls == {"dense step (step < dense_steps=1)": 4}
        assert layer.sparse_calls == 8


@pytest.mark.slow
def test_dense_steps_change_the_output_as_expected(flux_pipe):
    stock = run_flux_pipe(flux_pipe, steps=3)
    na_accel.patch(flux_pipe, SPARSE)
    all_sparse = run_flux_pipe(flux_pipe, steps=3)
    na_accel.unpatch(flux_pipe)
    na_accel.patch(flux_pipe, {**SPARSE, "dense_steps": 1})
    first_dense = run_flux_pipe(flux_pipe, steps=3)
    na_accel.unpatch(flux_pipe)
    na_accel.patch(flux_pipe, {**SPARSE, "dense_steps": 3})
    all_dense = run_flux_pipe(flux_pipe, steps=3)
    assert torch.equal(all_dense, stock)  # every step dense: the stock processors ran
    assert not torch.equal(first_dense, stock) and not torch.equal(first_dense, all_sparse)


# --- describe -----------------------------------------------------------------------------------


def test_describe_dry_run_changes_nothing(flux_pipe):
    before = processors(flux_pipe.transformer)
    report = na_accel.describe(flux_pipe, SPARSE)
    assert_untouched(flux_pipe.transformer, before)
    assert not report.transformers[0].patched
    assert [layer.plan for layer in report.transformers[0].layers] == [
        "GNA window 3x4 stride 2x3 dilation 1x1 (default)"] * 4
    assert "dry run" in str(report)


def test_describe_needs_a_patch_or_a_recipe(flux_pipe):
    with pytest.raises(na_accel.PatchStateError, match="not patched.*recipe="):
        na_accel.describe(flux_pipe)


def test_describe_report_is_json_and_text(flux_pipe):
    na_accel.patch(flux_pipe, SPARSE)
    run_flux_pipe(flux_pipe, steps=1, cfg=False)
    report = na_accel.describe(flux_pipe)
    data = json.loads(json.dumps(report.to_dict()))
    transformer = data["transformers"][0]
    assert transformer["backend"] == "flex-fna" and transformer["backends_used"] == {"cpu float32": "flex-fna"}
    assert transformer["totals"] == {"sparse": 4}
    assert transformer["layers"][0]["last_density"] == pytest.approx(
        (3 / 5) * (4 / 7))  # 3 of 5 rows, 4 of 7 columns for every query
    text = str(report)
    assert "transformer_blocks.0.attn" in text and "ran: 1 sparse" in text and "density 34.3%" in text


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
def test_model_moved_after_patching_re_resolves_backend(flux_transformer, dtype):
    """bf16 runs on flex-fna; NATTEN has no fp64 kernel, so fp64 runs stock, counted and warned."""
    from na_accel.tiny import flux_transformer_inputs

    inputs = {k: v.to(dtype) for k, v in flux_transformer_inputs(5, 7).items()}
    flux_transformer.to(dtype)
    with torch.no_grad():
        stock = flux_transformer(**inputs).sample
    na_accel.patch(flux_transformer.to(torch.float32), SPARSE)
    flux_transformer.to(dtype)
    with torch.no_grad():
        if dtype == torch.float64:
            with pytest.warns(UserWarning, match="backend 'auto' can't run for device=cpu, dtype=float64.*flex-fna: .*FP32"):
                patched = flux_transformer(**inputs).sample
        else:
            patched = flux_transformer(**inputs).sample
    report = na_accel.describe(flux_transformer).transformers[0]
    if dtype == torch.float64:
        assert report.backends_used["cpu float64"] == "none available"
        (reason,) = report.totals
        assert reason.startswith("dense: backend 'auto' can't run for device=cpu, dtype=float64")
        assert report.totals[reason] == 4
        assert torch.equal(patched, stock)
    else:
        assert report.backends_used["cpu bfloat16"] == "flex-fna"
        assert report.totals == {"sparse": 4}


def test_a_recipe_of_another_family_is_refused_naming_both_families(flux_pipe):
    recipe = {"model": "wan", "default": {"kernel_size": [2, 3, 3]}}
    with pytest.raises(na_accel.RecipeError, match=r"is for model family 'wan', but transformer \(FluxTransformer2DModel\) is 'flux'"):
        na_accel.patch(flux_pipe, recipe)
    assert not patches_of(flux_pipe)
