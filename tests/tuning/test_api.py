"""na_accel.tune inside real (tiny) pipelines: the errors it measures equal an independent computation on
the same captured inputs, the pipeline runs stock while it measures and is left unpatched, and the
recipe it writes round-trips, patches and runs the windows it says."""

import math
from dataclasses import replace

import pytest
import torch

import na_accel
from na_accel.errors import ArgumentError, RecipeError
from na_accel.kernels import BACKENDS, BackendTarget
from na_accel.patching import patches_of
from na_accel.tiny import TINY_PIPELINES
from na_accel.tuning.recorder import Recorder
from na_accel.windows import WindowSpec
from helpers.tuning_oracle import expected_error

# preset -> (recipe, call overrides): joint text first (FLUX), a reference image (Kontext), padded text
# and true CFG in two calls (Qwen-Image), padded video text (HunyuanVideo), CFG without text (Wan)
CASES = {
    "tiny-flux": ("flux_gna", {}),
    "tiny-flux-kontext": ("flux_gna", {}),
    "tiny-qwen-image": ("qwen_image_gna", {}),
    "tiny-hunyuan-video": ("hunyuan_video_gna", {"height": 128, "width": 128}),  # grid 3x8x8: tiles pay
    "tiny-wan": ("wan_gna", {}),
}
STEPS = 2


def generator_for(name, outputs=None):
    make, call = TINY_PIPELINES[name]
    pipe = make(seed=0)

    def generate(prompt):
        with torch.no_grad():
            out = pipe(**call(steps=STEPS, prompt=prompt, output_type="latent", **CASES[name][1]))
        result = out.frames if hasattr(out, "frames") else out.images
        if outputs is not None:
            outputs.append(result)
        return result
    return pipe, generate


@pytest.fixture
def captured(monkeypatch):
    calls = []
    measure = Recorder.measure

    def spy(self, name, step, route, backend, query, key, value, call):
        calls.append((name, step, query.detach().clone(), key.detach().clone(), value.detach().clone(), call))
        return measure(self, name, step, route, backend, query, key, value, call)

    monkeypatch.setattr(Recorder, "measure", spy)
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_measured_errors_equal_reference_vs_dense_on_the_captured_inputs(name, captured):
    pipe, generate = generator_for(name)
    result = na_accel.tune(pipe, CASES[name][0], max_error=0.5, prompts=["a cat", "a dog"], generate=generate,
                           progress=False)
    assert captured and result.layers
    for layer in result.layers:
        assert layer.candidates, f"{layer.name}: no candidate windows at grid {result.grid}"
        for step in range(STEPS):
            calls = [c for c in captured if c[0] == layer.name and c[1] == step]
            assert calls, (layer.name, step)
            for index, candidate in enumerate(layer.candidates):
                squared_error = squared_dense = 0.0
                for _, _, q, k, v, call in calls:
                    rows = torch.arange(math.prod(call.window.grid))
                    spec = WindowSpec(*(getattr(candidate.window, a) for a in
                                        ("kernel_size", "stride", "dilation", "is_causal")))
                    measured = replace(call, window=candidate.window,
                                       extra_windows=tuple(spec.resolve(g) for g in call.grids[1:]))
                    error, dense = expected_error(q, k, v, measured, rows, norms=True)
                    squared_error, squared_dense = squared_error + error, squared_dense + dense
                want = math.sqrt(squared_error / squared_dense)
                assert layer.errors[index, step] == pytest.approx(want, rel=1e-3, abs=1e-6), (layer.name, step)


def cpu_backends():
    target = BackendTarget(torch.device("cpu"), torch.float32, 16, 2)
    return [name for name, backend in BACKENDS.items() if backend.unavailable_reason(target) is None]


@pytest.mark.parametrize("backend", [pytest.param(name, marks=pytest.mark.slow) if name == "triton" else name
                                     for name in cpu_backends()])  # triton: the interpreter, ~10 s
def test_the_pipeline_runs_stock_while_measuring_and_is_left_unpatched(backend):
    stock_outputs, tuned_outputs = [], []
    _, stock = generator_for("tiny-qwen-image", stock_outputs)
    pipe, generate = generator_for("tiny-qwen-image", tuned_outputs)
    processors = dict(pipe.transformer.attn_processors)
    for prompt in ("a cat", "a dog"):
        stock(prompt)
    result = na_accel.tune(pipe, "qwen_image_gna", max_error=0.1, prompts=["a cat", "a dog"], generate=generate,
                           backend=backend, progress=False)
    assert result.layers and result.recipe.metadata["metadata"]["tune"]["backend"] == backend
    for want, got in zip(stock_outputs, tuned_outputs):
        # the calls run full windows (= stock up to the backend's rounding: a few ulps at the latents' size)
        assert torch.allclose(got, want, atol=1e-5, rtol=0), (got - want).abs().max()
    assert dict(pipe.transformer.attn_processors) == processors and not patches_of(pipe)
    assert not pipe.transformer._forward_pre_hooks and not pipe.transformer._forward_hooks


@pytest.mark.slow
def test_the_written_recipe_round_trips_patches_and_runs_what_it_says(tmp_path):
    pipe, generate = generator_for("tiny-flux")
    result = na_accel.tune(pipe, "flux_gna", max_error=0.5, prompts=["a cat"], generate=generate, progress=False)
    chosen = {c.name: c.candidate for c in result.selection.layers}
    assert any(chosen.values()), "the budget should allow some window on random weights"
    path = result.write(tmp_path / "tuned.yaml")
    loaded = na_accel.load_recipe(str(path))
    assert replace(loaded, name=result.recipe.name) == result.recipe  # a file's recipe is named by the file
    assert loaded.hash == result.recipe.hash
    tune_meta = loaded.metadata["metadata"]["tune"]
    assert tune_meta["max_error"] == 0.5 and tune_meta["prompts"] == ["a cat"]
    assert set(tune_meta["layers"]) == set(chosen)

    na_accel.patch(pipe, str(path), backend="reference")
    generate("a cat")
    report = {layer.name: layer for layer in na_accel.describe(pipe).transformers[0].layers}
    for name, candidate in chosen.items():
        if candidate is None:
            assert report[name].sparse_calls == 0
        else:
            assert report[name].resolved.window.kernel_size == candidate.window.kernel_size
            assert report[name].resolved.window.stride == candidate.window.stride
            assert report[name].sparse_calls == STEPS
            assert tune_meta["layers"][name]["error"] == pytest.approx(result.selection.layers[
                [c.name for c in result.selection.layers].index(name)].error, rel=1e-3)
    na_accel.unpatch(pipe)


def test_a_budget_of_zero_writes_an_all_dense_recipe():
    pipe, generate = generator_for("tiny-flux")
    result = na_accel.tune(pipe, "flux_gna", max_error=0.0, prompts=["a cat"], generate=generate, progress=False)
    assert result.recipe.default is None and all(rule.window is None for rule in result.recipe.layers)
    assert result.selection.relative_cost == 1.0


@pytest.mark.parametrize("kwargs,error,message", [
    ({"max_error": 1.5}, ArgumentError, r"max_error: 1.5 is not a relative error; allowed: a number in \[0, 1\]"),
    ({"max_error": -0.1}, ArgumentError, "max_error: -0.1"),
    ({"max_error": float("nan")}, ArgumentError, "max_error: nan"),
    ({"max_error": True}, ArgumentError, "max_error: True"),
    ({"max_error": 0.1, "prompts": []}, ArgumentError, "prompts: expected a non-empty list of strings"),
    ({"max_error": 0.1, "recipe": "wan_gna"}, RecipeError, "wan"),
])
def test_bad_input_is_refused_and_the_pipeline_left_as_it_was(kwargs, error, message):
    pipe, generate = generator_for("tiny-flux")
    processors = dict(pipe.transformer.attn_processors)
    kwargs = {"recipe": "flux_gna", **kwargs}

    def refuse(prompt):
        raise AssertionError("the pipeline ran")

    with pytest.raises(error, match=message):
        na_accel.tune(pipe, kwargs.pop("recipe"), generate=refuse, progress=False, **kwargs)
    assert dict(pipe.transformer.attn_processors) == processors and not patches_of(pipe)
