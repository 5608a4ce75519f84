"""A section that is present has the right type: ``{}``, ``0``, ``false`` or ``""`` where a list or
a mapping belongs are errors naming the field, the value and the type allowed, never taken as
"absent". Absent or null keeps the documented default (no rules, no overrides, no scaling, no snap)."""

from __future__ import annotations

import pytest

from na_accel import RecipeError, load_recipe
from na_accel.recipe.scaling import GridOverride, ScalingSpec
from helpers.sample_recipes import base_recipe

FLUX = {"model": "flux", "default": {"kernel_size": 8}}


def refused(data, *patterns):
    with pytest.raises(RecipeError) as info:
        load_recipe(data)
    message = str(info.value)
    for pattern in patterns:
        assert pattern in message, (pattern, message)
    return message


@pytest.mark.parametrize("value, shown", [({}, "{}"), (0, "0"), (False, "False"), ("", "''"), ("x", "'x'"),
                                          ({"grid": [8, 8], "kernel_size": 4}, "{'grid': [8, 8], 'kernel_size': 4}")])
def test_scaling_overrides_must_be_a_list(value, shown):
    refused({**FLUX, "scaling": {"overrides": value}},
            "recipe.scaling.overrides: expected a list of {grid: [...], kernel_size: ...}", f"got {shown}")


@pytest.mark.parametrize("value", [None, []])
def test_scaling_overrides_absent_null_or_empty_mean_none(value):
    recipe = load_recipe({**FLUX, "scaling": {"mode": "absolute", "overrides": value, "snap": "hopper-fna"}})
    assert recipe.scaling.overrides == ()
    assert recipe == load_recipe({**FLUX, "scaling": {"snap": "hopper-fna"}})


def test_scaling_overrides_as_a_list_still_work():
    recipe = load_recipe({**FLUX, "scaling": {"overrides": [{"grid": [16, 16], "kernel_size": 4}]}})
    assert recipe.scaling.overrides[0].grid == (16, 16)
    assert isinstance(recipe.scaling, ScalingSpec) and isinstance(recipe.scaling.overrides[0], GridOverride)


@pytest.mark.parametrize("value, shown", [({}, "{}"), (0, "0"), (False, "False"), ("", "''"),
                                          ({"match": "x", "dense": True}, "{'dense': True, 'match': 'x'}")])
def test_layers_must_be_a_list(value, shown):
    refused({**FLUX, "layers": value}, "recipe.layers: expected a list of rules", f"got {shown}")


@pytest.mark.parametrize("value", [None, []])
def test_layers_absent_null_or_empty_mean_no_rules(value):
    assert load_recipe({**FLUX, "layers": value}).layers == ()


@pytest.mark.parametrize("value, shown", [(0, "0"), (False, "False"), ("", "''"), ([], "[]")])
def test_scaling_must_be_a_mapping(value, shown):
    refused({**FLUX, "scaling": value}, "recipe.scaling: expected a mapping", f"got {shown}")


@pytest.mark.parametrize("value", [None, {}])
def test_scaling_null_or_empty_is_no_scaling(value):  # documented: scaling: {} states the default
    assert load_recipe({**FLUX, "scaling": value}).scaling is None


@pytest.mark.parametrize("value, pattern", [
    (0, "got 0"), ({}, "got []"), ("", "unknown tile source ''"), ([], "got []"), ({"q_tile": [8, 8]}, "q_tile and kv_tile"),
])
def test_snap_must_be_one_of_its_forms(value, pattern):
    refused({**FLUX, "scaling": {"snap": value}}, "recipe.scaling.snap", pattern)


@pytest.mark.parametrize("value", [None, False])
def test_snap_null_or_false_is_off(value):  # documented: snap: false (the default)
    assert load_recipe({**FLUX, "scaling": {"snap": value}}).scaling is None


@pytest.mark.parametrize("value, pattern", [
    (0, "recipe.default: expected a mapping"), (False, "recipe.default: expected a mapping"),
    ("", "recipe.default: expected a mapping"), ([], "recipe.default: expected a mapping"),
    (None, "recipe.default: expected a mapping"), ({}, "recipe.default.kernel_size: missing"),
])
def test_default_must_be_a_window_mapping(value, pattern):
    refused({"model": "flux", "default": value}, pattern)


@pytest.mark.parametrize("value, pattern", [
    (0, "recipe.scaling.tuned_grid: expected a list of 2 integers"),
    (False, "recipe.scaling.tuned_grid: expected a list of 2 integers"),
    ({}, "recipe.scaling.tuned_grid: expected a list of 2 integers"),
    ([], "recipe.scaling.tuned_grid: expected a list of 2 integers"),
])
def test_tuned_grid_must_be_a_grid_in_every_mode(value, pattern):
    for mode in ("absolute", "relative"):
        refused({**FLUX, "scaling": {"mode": mode, "tuned_grid": value}}, pattern)


@pytest.mark.parametrize("value, shown", [(0, "0"), (False, "False"), ([64, 64], "[64, 64]"), ("", "''")])
def test_tuned_for_read_by_relative_scaling_must_be_a_mapping(value, shown):
    refused({**FLUX, "tuned_for": value, "scaling": {"mode": "relative"}},
            "recipe.tuned_for: expected a mapping", f"got {shown}")


@pytest.mark.parametrize("key, value, pattern", [
    ("dense_steps", None, "recipe.dense_steps: expected an integer >= 0, got None"),
    ("dense_steps", False, "recipe.dense_steps: expected an integer >= 0, got False"),
    ("dense_final_steps", None, "recipe.dense_final_steps: expected an integer >= 0, got None"),
    ("speed_gate", None, "recipe.speed_gate: None is not allowed"),
    ("speed_gate", False, "recipe.speed_gate: False is not allowed"),
])
def test_present_scalars_are_checked_not_defaulted(key, value, pattern):
    refused({**FLUX, key: value}, pattern)


@pytest.mark.parametrize("rule, pattern", [
    ({}, "recipe.layers[0].match: expected a non-empty glob"),
    (0, "recipe.layers[0]: expected a mapping"),
    (False, "recipe.layers[0]: expected a mapping"),
    ({"match": "x", "dense": None}, "recipe.layers[0].dense: expected true or false, got None"),
    ({"match": "x", "dense": 0}, "recipe.layers[0].dense: expected true or false, got 0"),
])
def test_rules_are_mappings_with_their_own_types(rule, pattern):
    refused(base_recipe(layers=[rule]), pattern)
