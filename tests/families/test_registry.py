"""Every family of the registry, checked against itself: its config, geometry, layer names, recipe and
input builder agree with its adapter on real (tiny or meta-device) models.

Parametrized over ``FAMILY_SPECS``: a new family is tested here without editing this file (it needs
a tiny transformer in ``na_accel.tiny.TINY_TRANSFORMERS`` and a tiny preset in the zoo).
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch

from na_accel import RecipeError, estimate_recipe, list_recipes, load_recipe
from na_accel.families import (FAMILY_SPECS, adapter_for, check_recipe_family, family_geometry, family_spec,
                               supported_families)
from na_accel.plan import plan_layers
from na_accel.tiny import TINY_PIPELINES, TINY_TRANSFORMERS
from na_accel.models.random_weights import meta_model
from na_accel.models.zoo import MODELS

SPECS = pytest.mark.parametrize("spec", FAMILY_SPECS, ids=[spec.name for spec in FAMILY_SPECS])


class FirstCall(Exception):
    """Raised by a forward pre-hook to stop a pipeline at its first transformer call."""


def first_transformer_call(pipe, kwargs):
    """(args, kwargs) of the pipeline's first ``transformer`` call, without running the rest."""
    seen = {}

    def stop(module, args, call_kwargs):
        seen.update(args=args, kwargs=call_kwargs)
        raise FirstCall

    handle = pipe.transformer.register_forward_pre_hook(stop, with_kwargs=True)
    try:
        with torch.no_grad(), pytest.raises(FirstCall):
            pipe(**kwargs)
    finally:
        handle.remove()
    return seen["args"], seen["kwargs"]


def test_the_registry_is_the_one_list():
    names = [spec.name for spec in FAMILY_SPECS]
    assert len(set(names)) == len(names) and [family_spec(name) for name in names] == list(FAMILY_SPECS)
    assert sorted(names) == supported_families()
    assert [family_geometry(name) for name in names] == [spec.geometry for spec in FAMILY_SPECS]
    assert len({spec.config_file for spec in FAMILY_SPECS}) == len(names)
    assert set(TINY_TRANSFORMERS) == set(names)
    random_weights = sorted(m.family for m in MODELS.values() if m.config_file is not None)
    assert random_weights == sorted(names)  # one full-size random-weights model per family, from its spec


@SPECS
def test_config_loads_and_names_the_adapters_class(spec):
    shipped = spec.shipped_config()
    assert shipped["family"] == spec.name
    assert shipped["class_name"] == spec.adapter().transformer_class_name
    assert spec.adapter().family == spec.name
    assert spec.default_steps >= 1 and spec.default_text_tokens >= 1
    assert MODELS[shipped["name"]].family == spec.name
    shipped["config"].clear()  # a fresh copy each time
    assert spec.shipped_config()["config"]


@SPECS
def test_layer_names_are_the_adapters_on_the_full_size_model(spec):
    shipped = spec.shipped_config()
    model = meta_model(shipped["class_name"], shipped["config"])
    names = [name for name, _ in spec.adapter().attention_layers(model)]
    assert names and names == list(spec.layer_names(shipped["config"]))


@SPECS
def test_layer_names_are_the_adapters_on_the_tiny_transformer(spec):
    transformer = TINY_TRANSFORMERS[spec.name](seed=0)
    assert adapter_for(transformer).family == spec.name
    names = [name for name, _ in spec.adapter().attention_layers(transformer)]
    assert names == list(spec.layer_names(transformer.config))


@SPECS
def test_geometry_predicts_the_token_grid_the_adapter_reads_on_tiny_pipelines(spec):
    """Pixels -> tokens (the geometry) against what the adapter reads from the transformer's inputs,
    at each tiny preset's default size (a preset may compress time differently: its zoo geometry)."""
    presets = [name for name, model in MODELS.items() if model.family == spec.name and name in TINY_PIPELINES]
    assert presets, f"no tiny preset of family {spec.name!r} in na_accel.models.zoo.MODELS"
    for name in presets:
        factory, call = TINY_PIPELINES[name]
        pipe, kwargs = factory(seed=0), call(steps=1)
        model = MODELS[name]
        assert model.geometry.pixels_per_token == (model.pixels_per_token or spec.geometry.pixels_per_token)
        expected = model.geometry.token_grid(kwargs["height"], kwargs["width"], kwargs.get("num_frames"),
                                             single_frame=model.single_frame)
        args, call_kwargs = first_transformer_call(pipe, kwargs)
        layout = spec.adapter().token_layout(pipe.transformer, args, call_kwargs)
        assert layout.problem is None and layout.grid == expected, name


def _tensors(inputs):
    """The input builder's tensors by name (lists of tensors, as Z-Image's, by name and index)."""
    tensors = {}
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor):
            tensors[key] = value
        elif isinstance(value, (list, tuple)):
            tensors.update({f"{key}[{i}]": item for i, item in enumerate(value) if isinstance(item, torch.Tensor)})
    return tensors


@SPECS
def test_input_builder_feeds_the_tiny_transformer(spec):
    transformer = TINY_TRANSFORMERS[spec.name](seed=0)
    grid = (2, 3, 5)[-len(spec.geometry.axes):]
    inputs = spec.transformer_inputs(transformer, grid, batch=2, text_len=5, seed=0, device="cpu",
                                     dtype=torch.float32)
    assert inputs and set(inputs) <= set(inspect.signature(type(transformer).forward).parameters)
    layout = spec.adapter().token_layout(transformer, (), inputs)
    assert layout.problem is None and layout.grid == grid
    assert layout.text_len == (spec.joint_text_tokens(grid, 5) if spec.text_in_self_attention else 0)
    with torch.no_grad():
        out = transformer(**inputs, return_dict=False)[0]
    assert len(out) == 2 and all(torch.isfinite(row).all() for row in out)  # Z-Image: one tensor per row
    again = spec.transformer_inputs(transformer, grid, batch=2, text_len=5, seed=0)
    seeded, first = _tensors(again), _tensors(inputs)
    assert seeded.keys() == first.keys() and all(torch.equal(seeded[key], first[key]) for key in first)  # seeded


@SPECS
def test_shipped_recipe_loads_plans_and_estimates(spec):
    assert spec.recipe in list_recipes()
    recipe = load_recipe(spec.recipe)
    assert recipe.model == spec.name
    layers = spec.layer_names(spec.shipped_config()["config"])
    plans = plan_layers(recipe, layers)
    assert list(plans) == list(layers) and any(plan.sparse for plan in plans.values())
    estimate = estimate_recipe(spec.recipe)
    geometry = spec.geometry
    assert estimate.grid == geometry.token_grid(geometry.default_height, geometry.default_width)
    assert estimate.steps == spec.default_steps
    assert sum(len(row.layers) for row in estimate.rows) == len(layers)


def test_recipes_validate_and_estimate_without_importing_diffusers():
    """The adapters import diffusers' model code: specs name them, and nothing imports them early."""
    code = (
        "import sys, na_accel\n"
        "from na_accel.families import FAMILY_SPECS\n"
        "for spec in FAMILY_SPECS:\n"
        "    na_accel.load_recipe(spec.recipe); na_accel.estimate_recipe(spec.recipe)\n"
        "adapters = [spec.adapter_path.partition(':')[0] for spec in FAMILY_SPECS]\n"
        "print(sorted(m for m in sys.modules if m == 'diffusers' or m in adapters))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_recipe_for_another_family_is_refused_with_field_value_and_fix():
    check_recipe_family("flux", "flux", "--recipe: flux_gna", "tiny-flux")  # same family: fine
    with pytest.raises(RecipeError) as info:
        check_recipe_family("wan", "flux", "--recipe: wan_gna", "tiny-flux")
    assert str(info.value) == ("--recipe: wan_gna is for model family 'wan', but tiny-flux is 'flux'; "
                               "use a flux recipe (na-accel recipes lists them)")


def test_an_adapter_must_declare_what_patch_asks_of_it():
    from na_accel.families import ModelAdapter

    with pytest.raises(TypeError, match="processors.*token_layout"):
        ModelAdapter(family_spec("wan"), transformer_class=torch.nn.Module, pipeline_names=())


def test_a_family_whose_transformer_diffusers_lacks_is_left_out(monkeypatch):
    """On an older diffusers (the floor run's 0.36) a newer family's declaration can't import its classes:
    the family is unavailable, with the reason, and the others still patch."""
    import dataclasses

    import na_accel.families.registry as registry

    first = registry.FAMILY_SPECS[0]
    missing = dataclasses.replace(first, name="future", geometry=dataclasses.replace(first.geometry, family="future"),
                                  adapter_path="diffusers.models.transformers.transformer_future:adapter")
    monkeypatch.setattr(registry, "FAMILY_SPECS", (missing, *registry.FAMILY_SPECS))
    reason = missing.unavailable_reason()
    assert reason.startswith("future: diffusers ") and "transformer_future" in reason
    assert missing not in registry.available_family_specs()
    assert [a.family for a in registry.all_adapters()] == [s.name for s in registry.FAMILY_SPECS[1:]]


def test_an_unsupported_transformer_is_a_short_first_line_then_the_supported_ones_one_a_line():
    from na_accel.errors import UnsupportedModelError
    from na_accel.families.registry import all_adapters

    adapters = all_adapters()
    with pytest.raises(UnsupportedModelError) as caught:
        adapter_for(torch.nn.Linear(2, 2))
    first, heading, *rest = str(caught.value).splitlines()
    assert first == "transformer: Linear is not supported: no na_accel model family handles it"
    assert heading == "supported transformers (recipe model family):"
    listed = rest[:len(adapters)]
    assert listed == [f"  {a.transformer_class_name} ({a.family!r})" for a in adapters] and len(listed) > 10
    assert rest[len(adapters):] == [
        "A family for another transformer is a declaration (its attention modules and stock processor classes, "
        "where its token grid and text sit in the sequence, any text padding mask): docs/extending.md#a-model-family",
        "Every diffusers transformer and its status: docs/models.md",
    ]
    assert max(len(line) for line in [first, heading, *listed]) < 100
