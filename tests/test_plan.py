"""Tests for na_accel.plan: a recipe over layer names -> what each layer runs, and why when it's dense."""

from __future__ import annotations

import pytest

from na_accel import load_recipe
from na_accel.errors import RecipeError
from na_accel.plan import LayerPlan, check_rules_decide, plan_layers
from na_accel.windows import WindowSpec

NAMES = ["transformer_blocks.0.attn", "transformer_blocks.1.attn", "single_transformer_blocks.0.attn",
         "single_transformer_blocks.1.attn", "single_transformer_blocks.10.attn"]

RECIPE = load_recipe({
    "model": "flux",
    "default": {"kernel_size": 8, "stride": 2},
    "layers": [
        {"match": "single_transformer_blocks.1*", "kernel_size": 4},  # listed first: wins for .1 and .10
        {"match": "single_transformer_blocks.*", "kernel_size": 6},
        {"match": "re:single_transformer_blocks\\.1\\.attn", "dense": True},  # never reached: a rule above matches
        {"match": "transformer_blocks.1.attn", "dense": True},
    ],
})


def spec(kernel, stride):
    return WindowSpec((kernel, kernel), (stride, stride), (1, 1), (False, False))


def test_every_name_is_planned_in_order():
    plans = plan_layers(RECIPE, NAMES)
    assert list(plans) == NAMES
    assert all(isinstance(p, LayerPlan) and p.name == name for name, p in plans.items())
    assert plan_layers(RECIPE, []) == {}


def test_the_first_matching_rule_wins():
    plans = plan_layers(RECIPE, NAMES)
    expected = {
        "transformer_blocks.0.attn": (spec(8, 2), "default"),
        "transformer_blocks.1.attn": (None, "layers[3]"),
        "single_transformer_blocks.0.attn": (spec(6, 2), "layers[1]"),
        "single_transformer_blocks.1.attn": (spec(4, 2), "layers[0]"),
        "single_transformer_blocks.10.attn": (spec(4, 2), "layers[0]"),
    }
    for name, (window, source) in expected.items():
        assert plans[name].setting.window == window, name
        assert source in plans[name].setting.source, (name, plans[name].setting.source)
    assert [name for name, p in plans.items() if p.sparse] == [n for n in NAMES if n != "transformer_blocks.1.attn"]


def test_blocked_applies_only_to_layers_the_recipe_makes_sparse():
    blocked = {"transformer_blocks.0.attn": "processor X is not supported",
               "transformer_blocks.1.attn": "processor Y is not supported"}
    plans = plan_layers(RECIPE, NAMES, blocked)
    sparse_but_blocked = plans["transformer_blocks.0.attn"]
    assert not sparse_but_blocked.sparse and sparse_but_blocked.blocked == "processor X is not supported"
    assert sparse_but_blocked.dense_reason == "processor X is not supported"
    dense_by_recipe = plans["transformer_blocks.1.attn"]
    assert dense_by_recipe.blocked is None  # the recipe's reason stands, not the processor's
    assert dense_by_recipe.dense_reason.startswith("recipe ") and "layers[3]" in dense_by_recipe.dense_reason
    assert plans["single_transformer_blocks.0.attn"].sparse  # not in blocked: unaffected


def test_a_blocked_name_that_is_not_planned_is_ignored():
    plans = plan_layers(RECIPE, NAMES[:1], {"not_a_layer": "whatever"})
    assert list(plans) == NAMES[:1] and plans[NAMES[0]].sparse


def test_dense_reasons_and_descriptions():
    recipe = load_recipe({"model": "flux", "default": {"dense": True}, "layers": [{"match": "a", "kernel_size": [3, 5]}]})
    plans = plan_layers(recipe, ["a", "b"], {"a": "why"})
    assert plans["b"].dense_reason == "recipe default"
    assert plans["b"].describe() == "dense: recipe default"
    assert plans["a"].describe() == "dense: why"
    sparse = plan_layers(recipe, ["a"])["a"]
    assert sparse.dense_reason is None
    text = sparse.describe()
    assert text.startswith("GNA window 3x5 stride 1x1 dilation 1x1 (") and "layers[0]" in text and "'a'" in text


# --- a rule must decide some layer ----------------------------------------------------------------


def test_a_rule_that_matches_no_layer_is_named_with_close_names():
    recipe = load_recipe({"model": "flux", "default": {"kernel_size": 3},
                          "layers": [{"match": "transfomer_blocks.*", "dense": True}]})
    with pytest.raises(RecipeError) as caught:
        check_rules_decide(recipe, list(plan_layers(recipe, NAMES).values()), "FluxTransformer2DModel")
    message = str(caught.value)
    assert "layers[0] (match 'transfomer_blocks.*') matches no attention layer of FluxTransformer2DModel" in message
    assert "transformer_blocks.0.attn" in message  # a close name


@pytest.mark.parametrize("match", ["re:attn", "...attn2", "single_transformer_blocks.2"])
def test_globs_and_regexes_must_match_whole_names(match):
    recipe = load_recipe({"model": "flux", "default": {"kernel_size": 3}, "layers": [{"match": match, "dense": True}]})
    with pytest.raises(RecipeError, match="matches no attention layer"):
        check_rules_decide(recipe, list(plan_layers(recipe, NAMES).values()), "flux")


def test_a_rule_every_match_of_which_an_earlier_rule_takes_is_named():
    with pytest.raises(RecipeError, match=r"layers\[2\] .* decides no layer of flux: every layer it matches "
                                          r"\(1, e\.g\. single_transformer_blocks\.1\.attn\) is decided by an "
                                          r"earlier rule, layers\[0\]"):
        check_rules_decide(RECIPE, list(plan_layers(RECIPE, NAMES).values()), "flux")


def test_rules_that_each_decide_a_layer_pass():
    recipe = load_recipe({"model": "flux", "default": {"kernel_size": 3}, "layers": [
        {"match": "single_*", "kernel_size": 4}, {"match": "re:transformer_blocks\\.[0-9]+\\.attn", "dense": True}]})
    check_rules_decide(recipe, list(plan_layers(recipe, NAMES).values()), "flux")
