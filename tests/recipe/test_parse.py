"""Tests for na_accel.recipe.parse: loading dicts, shorthand and defaults, and bad recipes (a RecipeError
naming the field and the value)."""

from __future__ import annotations

import copy

import pytest

from na_accel import RecipeError, load_recipe
from na_accel.recipe.parse import parse_recipe
from helpers.sample_recipes import base_recipe, default_only, one_rule, window, without


def test_load_dict():
    data = base_recipe()
    snapshot = copy.deepcopy(data)
    recipe = load_recipe(data)
    assert recipe.model == "flux"
    assert recipe.name is None
    assert recipe.default == window((80, 80), stride=(16, 16))
    assert [rule.match for rule in recipe.layers] == [
        "transformer_blocks.0.attn",
        "single_transformer_blocks.*",
    ]
    assert data == snapshot  # the input is not mutated


def test_load_dict_name_from_metadata():
    recipe = load_recipe(base_recipe(name="mine", description="hello"))
    assert recipe.name == "mine"
    assert recipe.metadata == {"description": "hello"}  # the name is Recipe.name only


def test_load_recipe_object_returned_as_is():
    recipe = load_recipe(base_recipe())
    assert load_recipe(recipe) is recipe


# ============================================================================================
# Defaults and shorthand
# ============================================================================================


def test_int_shorthand_expands_to_every_axis():
    recipe = load_recipe(
        base_recipe(default={"kernel_size": 48, "stride": 4, "dilation": 2}, layers=[])
    )
    assert recipe.default.kernel_size == (48, 48)
    assert recipe.default.stride == (4, 4)
    assert recipe.default.dilation == (2, 2)


def test_int_shorthand_is_causal_bool_expands():
    recipe = load_recipe(base_recipe(default={"kernel_size": 8, "is_causal": True}, layers=[]))
    assert recipe.default.is_causal == (True, True)


def test_stride_dilation_causal_defaults():
    recipe = load_recipe(base_recipe(default={"kernel_size": [40, 24]}, layers=[]))
    assert recipe.default.kernel_size == (40, 24)
    assert recipe.default.stride == (1, 1)
    assert recipe.default.dilation == (1, 1)
    assert recipe.default.is_causal == (False, False)


def test_dense_steps_defaults_to_zero_and_layers_optional():
    data = base_recipe()
    del data["dense_steps"]
    del data["layers"]
    recipe = load_recipe(data)
    assert recipe.dense_steps == 0
    assert recipe.layers == ()


def test_per_axis_is_causal():
    recipe = load_recipe(
        base_recipe(default={"kernel_size": [8, 8], "is_causal": [True, False]}, layers=[])
    )
    assert recipe.default.is_causal == (True, False)


def test_dense_default():
    recipe = load_recipe(base_recipe(default={"dense": True}, layers=[]))
    assert recipe.default is None
    assert recipe.setting_for("anything").window is None


# ============================================================================================
# Bad recipes: RecipeError naming the field and the value
# ============================================================================================


def test_recipe_error_is_value_error():
    assert issubclass(RecipeError, ValueError)
    with pytest.raises(ValueError):
        load_recipe(base_recipe(default={"kernel_size": 1}))


# (recipe dict, regex for the field, regex for the bad value)
BAD_RECIPES = [
    # --- window below 2
    pytest.param(default_only(kernel_size=1), r"recipe\.default\.kernel_size", r"got 1\b", id="kernel-1"),
    pytest.param(
        default_only(kernel_size=[80, 1]), r"recipe\.default\.kernel_size\[1\]", r"got 1\b", id="kernel-axis1-1"
    ),
    pytest.param(
        one_rule({"match": "x", "kernel_size": [1, 8]}),
        r"recipe\.layers\[0\]\.kernel_size",
        r"got 1\b",
        id="rule-kernel-1",
    ),
    # --- stride larger than window
    pytest.param(
        default_only(kernel_size=[16, 16], stride=[32, 8]),
        r"recipe\.default\.stride",
        r"stride 32\b.*kernel_size 16\b",
        id="stride-gt-kernel",
    ),
    pytest.param(
        one_rule({"match": "x", "kernel_size": [8, 8]}),  # stride 16 inherited from default
        r"recipe\.default\.stride.*recipe\.layers\[0\]\.kernel_size",
        r"stride 16\b.*kernel_size 8\b",
        id="inherited-stride-gt-rule-kernel",
    ),
    pytest.param(
        one_rule({"match": "x", "stride": [4, 100]}),
        r"recipe\.layers\[0\]\.stride",
        r"stride 100\b.*kernel_size 80\b",
        id="rule-stride-gt-inherited-kernel",
    ),
    # --- non-integers
    pytest.param(default_only(kernel_size=80.0), r"recipe\.default\.kernel_size", r"got 80\.0", id="float"),
    pytest.param(default_only(kernel_size="80"), r"recipe\.default\.kernel_size", r"got '80'", id="str"),
    pytest.param(default_only(kernel_size=True), r"recipe\.default\.kernel_size", r"got True", id="bool"),
    pytest.param(
        default_only(kernel_size=[80, True]), r"recipe\.default\.kernel_size\[1\]", r"got True", id="bool-in-list"
    ),
    pytest.param(
        default_only(kernel_size=8, stride=2.5), r"recipe\.default\.stride", r"got 2\.5", id="float-stride"
    ),
    pytest.param(
        default_only(kernel_size=8, dilation=[1, "2"]), r"recipe\.default\.dilation\[1\]", r"got '2'", id="str-dilation"
    ),
    # --- out-of-range numbers
    pytest.param(default_only(kernel_size=8, stride=-1), r"recipe\.default\.stride", r"got -1\b", id="stride-neg"),
    pytest.param(default_only(kernel_size=8, stride=0), r"recipe\.default\.stride", r"got 0\b", id="stride-0"),
    pytest.param(default_only(kernel_size=8, dilation=0), r"recipe\.default\.dilation", r"got 0\b", id="dilation-0"),
    pytest.param(
        one_rule({"match": "x", "dilation": [1, -3]}),
        r"recipe\.layers\[0\]\.dilation\[1\]",
        r"got -3\b",
        id="rule-dilation-neg",
    ),
    # --- wrong number of axes
    pytest.param(
        default_only(kernel_size=[80, 80, 80]), r"recipe\.default\.kernel_size", r"\[80, 80, 80\]", id="3-axes"
    ),
    pytest.param(default_only(kernel_size=[80]), r"recipe\.default\.kernel_size", r"\[80\]", id="1-axis"),
    pytest.param(
        default_only(kernel_size=8, stride=[1, 1, 1]), r"recipe\.default\.stride", r"\[1, 1, 1\]", id="3-axes-stride"
    ),
    pytest.param(
        default_only(kernel_size=8, is_causal=[True]), r"recipe\.default\.is_causal", r"\[True\]", id="1-axis-causal"
    ),
    # --- unknown keys (the message lists the allowed keys)
    pytest.param(
        base_recipe(windw=3), r"recipe\b", r"'windw'.*allowed keys.*'default'.*'description'", id="unknown-top"
    ),
    pytest.param(
        default_only(kernel_size=8, kernal=3),
        r"recipe\.default\b",
        r"'kernal'.*allowed keys.*'kernel_size'.*'stride'",
        id="unknown-default",
    ),
    pytest.param(
        default_only(kernel_size=8, match="x"),  # match is for rules only
        r"recipe\.default\b",
        r"'match'.*allowed keys",
        id="match-in-default",
    ),
    pytest.param(
        one_rule({"match": "x", "kernel": 3}),
        r"recipe\.layers\[0\]",
        r"'kernel'.*allowed keys.*'match'.*'kernel_size'",
        id="unknown-rule",
    ),
    # --- model
    pytest.param(without("model"), r"recipe\.model", r"missing.*'flux'", id="missing-model"),
    pytest.param(base_recipe(model="sd3"), r"recipe\.model", r"'sd3'.*'flux'", id="unknown-model"),
    pytest.param(base_recipe(model=["flux"]), r"recipe\.model", r"\['flux'\]", id="model-list"),
    # --- dense_steps
    pytest.param(base_recipe(dense_steps=-1), r"recipe\.dense_steps", r"got -1\b", id="dense-steps-neg"),
    pytest.param(base_recipe(dense_steps=1.5), r"recipe\.dense_steps", r"got 1\.5", id="dense-steps-float"),
    pytest.param(base_recipe(dense_steps="2"), r"recipe\.dense_steps", r"got '2'", id="dense-steps-str"),
    pytest.param(base_recipe(dense_steps=True), r"recipe\.dense_steps", r"got True", id="dense-steps-bool"),
    # --- dense_final_steps: validated like dense_steps
    pytest.param(base_recipe(dense_final_steps=-2), r"recipe\.dense_final_steps", r"got -2\b", id="final-steps-neg"),
    pytest.param(base_recipe(dense_final_steps=2.0), r"recipe\.dense_final_steps", r"got 2\.0", id="final-steps-float"),
    pytest.param(base_recipe(dense_final_steps="1"), r"recipe\.dense_final_steps", r"got '1'", id="final-steps-str"),
    pytest.param(base_recipe(dense_final_steps=False), r"recipe\.dense_final_steps", r"got False", id="final-steps-bool"),
    pytest.param(base_recipe(dense_final_steps=10**9), r"recipe\.dense_final_steps", r"MAX_DENSE_STEPS", id="final-steps-huge"),
    # --- missing pieces
    pytest.param(without("default"), r"recipe\.default", r"missing", id="missing-default"),
    pytest.param(default_only(stride=4), r"recipe\.default\.kernel_size", r"missing", id="missing-kernel"),
    pytest.param(
        one_rule({"match": "x", "stride": 1}, default={"dense": True}),
        r"recipe\.layers\[0\]\.kernel_size",
        r"missing",
        id="rule-missing-kernel-under-dense-default",
    ),
    pytest.param(
        one_rule({"kernel_size": 8}), r"recipe\.layers\[0\]\.match", r"got None", id="rule-without-match"
    ),
    pytest.param(
        one_rule({"match": "", "kernel_size": 8}), r"recipe\.layers\[0\]\.match", r"got ''", id="rule-empty-match"
    ),
    pytest.param(
        one_rule({"match": 5, "kernel_size": 8}), r"recipe\.layers\[0\]\.match", r"got 5\b", id="rule-match-int"
    ),
    pytest.param(
        one_rule({"match": "re:single_(", "kernel_size": 8}),
        r"recipe\.layers\[0\]\.match",
        r"invalid regex 'single_\('",
        id="invalid-regex",
    ),
    # --- dense flag
    pytest.param(
        one_rule({"match": "x", "dense": True, "kernel_size": [8, 8]}),
        r"recipe\.layers\[0\]",
        r"dense: true.*\['kernel_size'\]",
        id="dense-with-kernel",
    ),
    pytest.param(
        default_only(dense=True, stride=2), r"recipe\.default\b", r"dense: true.*\['stride'\]", id="dense-default-with-stride"
    ),
    pytest.param(default_only(dense="yes"), r"recipe\.default\.dense", r"got 'yes'", id="dense-str"),
    pytest.param(
        one_rule({"match": "x", "dense": 1}), r"recipe\.layers\[0\]\.dense", r"got 1\b", id="dense-int"
    ),
    # --- is_causal
    pytest.param(
        default_only(kernel_size=8, is_causal="no"), r"recipe\.default\.is_causal", r"got 'no'", id="causal-str"
    ),
    pytest.param(
        default_only(kernel_size=8, is_causal=[True, 0]),
        r"recipe\.default\.is_causal\[1\]",
        r"got 0\b",
        id="causal-int-in-list",
    ),
    # --- structure
    pytest.param(
        base_recipe(layers={"match": "x", "kernel_size": 8}), r"recipe\.layers", r"got \{'kernel_size': 8, 'match': 'x'\} \(type dict\)", id="layers-dict"
    ),
    pytest.param(base_recipe(layers="single_*"), r"recipe\.layers", r"got 'single_\*' \(type str\)", id="layers-str"),
    pytest.param(base_recipe(layers=7), r"recipe\.layers", r"got 7 \(type int\)", id="layers-int"),
    pytest.param(base_recipe(layers=["single_*"]), r"recipe\.layers\[0\]", r"got 'single_\*'", id="rule-str"),
    pytest.param(base_recipe(default=[80, 80]), r"recipe\.default", r"got \[80, 80\]", id="default-list"),
]


@pytest.mark.parametrize("data, field, value", BAD_RECIPES)
def test_bad_recipe(data, field, value):
    with pytest.raises(RecipeError, match=field) as info:
        load_recipe(data)
    assert info.match(value)
    assert isinstance(info.value, ValueError)


# Cases that are not a single dict: (callable producing the argument, field regex, value regex)


def test_top_level_not_a_mapping_in_parse_recipe():
    with pytest.raises(RecipeError, match=r"recipe\b.*top level") as info:
        parse_recipe([1, 2])
    assert info.match(r"got list")


def test_top_level_not_a_mapping_in_load_recipe():
    with pytest.raises(RecipeError, match=r"recipe\b") as info:
        load_recipe(42)
    assert info.match(r"got int")


# ============================================================================================
# Several mistakes: one RecipeError lists them all, one a line
# ============================================================================================

KERNEL_1 = "recipe.default.kernel_size: expected an integer >= 2, got 1; allowed range [2, 65536]"
UNKNOWN_COLOUR = ("recipe: unknown key(s) ['colour']; allowed keys are ['model', 'dense_steps', 'dense_final_steps', "
                  "'speed_gate', 'default', 'layers', 'scaling', 'name', 'description', 'source', 'provenance', "
                  "'tuned_for', 'notes', 'metadata']")
DENSE_STEPS = "recipe.dense_steps: expected an integer >= 0, got -1; allowed range [0, 100000]"


def test_a_recipe_with_several_mistakes_reports_them_all_in_one_error():
    with pytest.raises(RecipeError) as info:
        load_recipe({"model": "flux", "default": {"kernel_size": 1}, "dense_steps": -1, "colour": "red"})
    assert str(info.value).splitlines() == ["recipe: 3 problems:", f"  {UNKNOWN_COLOUR}", f"  {KERNEL_1}",
                                           f"  {DENSE_STEPS}"]
    assert info.value.problems == (UNKNOWN_COLOUR, KERNEL_1, DENSE_STEPS)


def test_one_mistake_keeps_its_own_words():
    with pytest.raises(RecipeError) as info:
        load_recipe({"model": "flux", "default": {"kernel_size": 1}})
    assert str(info.value) == KERNEL_1 and info.value.problems == (KERNEL_1,)


def test_every_section_is_checked_though_another_fails():
    data = {"model": "flux", "default": {"kernel_size": [1, 0], "stride": "x"}, "speed_gate": "fast",
            "dense_final_steps": 2.5, "layers": [{"match": "a", "kernel_size": "q"}, 5, {"dense": "yes"}],
            "scaling": {"mode": "stretch"}}
    with pytest.raises(RecipeError) as info:
        load_recipe(data)
    lines = str(info.value).splitlines()
    assert lines[0] == f"recipe: {len(lines) - 1} problems:" and all(line.startswith("  recipe") for line in lines[1:])
    fields = [line.split(":")[0].strip() for line in lines[1:]]
    assert fields == ["recipe.default.kernel_size[0] (height)", "recipe.default.kernel_size[1] (width)",
                      "recipe.default.stride", "recipe.layers[1]", "recipe.layers[2].dense",
                      "recipe.dense_final_steps", "recipe.speed_gate", "recipe.layers[0].kernel_size",
                      "recipe.layers[2].match", "recipe.scaling.mode"]
    # the rules' own mistakes only: a rule does not repeat the mistake of the default it inherits
    assert not [line for line in lines if line.startswith("  recipe.layers[0].stride")]


def test_a_recipe_file_with_several_mistakes_names_the_file_once(tmp_path, capsys):
    from na_accel.cli import main

    path = tmp_path / "two.yaml"
    path.write_text("model: flux\ndense_steps: -1\ndefault: {kernel_size: 1}\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).splitlines() == [f"recipe: 2 problems (in file '{path}'):", f"  {KERNEL_1}",
                                           f"  {DENSE_STEPS}"]
    assert main(["estimate", "--recipe", str(path)]) == 2
    assert capsys.readouterr().err == f"na-accel: error: {info.value}\n"


def test_a_python_built_recipe_reports_all_its_mistakes_too():
    from na_accel import Recipe

    with pytest.raises(RecipeError) as info:
        Recipe(model="flux", dense_steps=-1, default=window((1, 1)), speed_gate="fast")
    assert info.value.problems[0] == DENSE_STEPS
    assert [p.split(":")[0] for p in info.value.problems] == ["recipe.dense_steps", "recipe.speed_gate",
                                                             "recipe.default.kernel_size"]
