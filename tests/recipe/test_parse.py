"""Tests for na_accel.recipe: loading, validation, layer matching and window resolution."""

from __future__ import annotations

import copy
import random
import json

import pytest
import yaml

import na_accel
from na_accel import Recipe, RecipeError, WindowSpec, list_recipes, load_recipe
from na_accel.recipe.model import MAX_DENSE_STEPS, LayerSetting
from na_accel.windows import ResolvedWindow
from na_accel.recipe.parse import parse_recipe
from na_accel.recipe.scaling import MAX_AXIS
from na_accel.families.geometry import supported_families


def base_recipe(**overrides):
    """A small valid flux recipe; keyword arguments replace top-level keys."""
    data = {
        "model": "flux",
        "dense_steps": 0,
        "default": {"kernel_size": [80, 80], "stride": [16, 16], "dilation": [1, 1]},
        "layers": [
            {"match": "transformer_blocks.0.attn", "dense": True},
            {"match": "single_transformer_blocks.*", "kernel_size": [64, 64]},
        ],
    }
    data.update(overrides)
    return data


def window(kernel, stride=(1, 1), dilation=(1, 1), causal=(False, False)):
    return WindowSpec(
        kernel_size=tuple(kernel),
        stride=tuple(stride),
        dilation=tuple(dilation),
        is_causal=tuple(causal),
    )


# ============================================================================================
# 1. Loading each form
# ============================================================================================


def test_list_recipes_contains_flux_gna():
    names = list_recipes()
    assert isinstance(names, list)
    assert "flux_gna" in names
    assert names == sorted(names)


def test_load_shipped_flux_gna():
    recipe = load_recipe("flux_gna")
    assert isinstance(recipe, Recipe)
    assert recipe.model == "flux"
    assert recipe.name == "flux_gna"
    assert recipe.dense_steps == 0
    assert recipe.default == window((80, 80), stride=(16, 16), dilation=(1, 1))
    assert recipe.default.kernel_size == (80, 80)
    assert recipe.default.stride == (16, 16)
    assert recipe.layers == ()
    # Documentation keys are kept as metadata.
    assert recipe.metadata["name"] == "flux_gna"
    assert "description" in recipe.metadata


def _names_or_empty():
    # Collected at import time; if listing itself fails, test_list_recipes_* reports it.
    try:
        return list_recipes()
    except Exception:  # noqa: BLE001
        return ["<list_recipes() failed>"]


@pytest.mark.parametrize("name", _names_or_empty())
def test_every_shipped_recipe_loads(name):
    recipe = load_recipe(name)
    assert isinstance(recipe, Recipe)
    assert recipe.name == name
    assert recipe.model in supported_families()
    assert recipe.metadata.get("source"), "shipped recipes say where they come from"


def test_load_yaml_path(tmp_path):
    path = tmp_path / "my_recipe.yaml"
    path.write_text(yaml.safe_dump(base_recipe(dense_steps=2)))
    # Both a Path and a str path work.
    for source in (path, str(path)):
        recipe = load_recipe(source)
        assert recipe.model == "flux"
        assert recipe.dense_steps == 2
        assert recipe.name == "my_recipe"  # file stem when the file has no name key
        assert recipe.default == window((80, 80), stride=(16, 16))
        assert len(recipe.layers) == 2
        assert recipe.layers[0].window is None
        assert recipe.layers[1].window == window((64, 64), stride=(16, 16))


def test_load_json_path(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(base_recipe(default={"kernel_size": 32, "stride": 8})))
    recipe = load_recipe(str(path))
    assert recipe.name == "other"
    assert recipe.default == window((32, 32), stride=(8, 8))
    # Same content as a dict gives the same windows.
    assert recipe.default == load_recipe(json.loads(path.read_text())).default


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
    assert recipe.metadata == {"name": "mine", "description": "hello"}


def test_load_recipe_object_returned_as_is():
    recipe = load_recipe(base_recipe())
    assert load_recipe(recipe) is recipe


# ============================================================================================
# 2. Defaults, shorthand, round trip and hash
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


@pytest.mark.parametrize(
    "data",
    [
        base_recipe(),
        base_recipe(default={"kernel_size": 64}, layers=[], dense_steps=3),
        base_recipe(default={"dense": True}, layers=[{"match": "re:a.*", "kernel_size": 4}]),
        base_recipe(
            default={"kernel_size": [8, 8], "is_causal": [True, False]},
            name="n",
            description="d",
        ),
    ],
    ids=["base", "shorthand", "dense-default", "causal-with-metadata"],
)
def test_to_dict_round_trip_from_dict(data):
    recipe = load_recipe(data)
    again = load_recipe(recipe.to_dict())
    assert again == recipe
    assert again.hash == recipe.hash
    assert recipe.to_dict() == data  # plain JSON-able dict, same content


def test_to_dict_round_trip_shipped():
    recipe = load_recipe("flux_gna")
    assert load_recipe(recipe.to_dict()) == recipe


def test_to_dict_round_trip_from_file(tmp_path):
    # The documented invariant load_recipe(r.to_dict()) == r, for a recipe loaded from a file.
    path = tmp_path / "from_file.yaml"
    path.write_text(yaml.safe_dump(base_recipe()))
    recipe = load_recipe(path)
    assert load_recipe(recipe.to_dict()) == recipe


def test_to_dict_is_a_copy():
    recipe = load_recipe(base_recipe())
    out = recipe.to_dict()
    out["default"]["kernel_size"] = [2, 2]
    assert recipe.to_dict()["default"]["kernel_size"] == [80, 80]


def test_hash_stable_across_loads():
    first = load_recipe(base_recipe())
    second = load_recipe(base_recipe())
    assert isinstance(first.hash, str) and len(first.hash) == 12
    assert first.hash == second.hash
    assert first.hash == load_recipe(first.to_dict()).hash


def test_hash_changes_with_window_values():
    reference = load_recipe(base_recipe()).hash
    changed_default = load_recipe(
        base_recipe(default={"kernel_size": [64, 80], "stride": [16, 16], "dilation": [1, 1]})
    ).hash
    changed_rule = load_recipe(
        base_recipe(
            layers=[
                {"match": "transformer_blocks.0.attn", "dense": True},
                {"match": "single_transformer_blocks.*", "kernel_size": [48, 64]},
            ]
        )
    ).hash
    changed_steps = load_recipe(base_recipe(dense_steps=1)).hash
    assert len({reference, changed_default, changed_rule, changed_steps}) == 4


def test_hash_ignores_metadata():
    reference = load_recipe(base_recipe()).hash
    assert load_recipe(base_recipe(description="something else")).hash == reference
    assert load_recipe(base_recipe(name="x", notes="y", metadata={"a": 1})).hash == reference
    assert load_recipe(base_recipe(description="a")) == load_recipe(base_recipe(description="a"))


# ============================================================================================
# 3. Layer matching (Recipe.setting_for)
# ============================================================================================


def test_glob_match():
    recipe = load_recipe(base_recipe())
    setting = recipe.setting_for("single_transformer_blocks.3.attn")
    assert isinstance(setting, LayerSetting)
    assert setting.window == window((64, 64), stride=(16, 16))
    assert "layers[1]" in setting.source
    # Glob does not match a different prefix.
    assert recipe.setting_for("transformer_blocks.3.attn").source == "default"


def test_regex_full_match():
    recipe = load_recipe(
        base_recipe(
            layers=[{"match": r"re:single_transformer_blocks\.[0-9]+\.attn", "kernel_size": 32}]
        )
    )
    setting = recipe.setting_for("single_transformer_blocks.3.attn")
    assert setting.window == window((32, 32), stride=(16, 16))
    assert "layers[0]" in setting.source
    # Full match: extra text after the pattern does not match.
    assert recipe.setting_for("single_transformer_blocks.3.attn.proj").source == "default"


def test_partial_regex_does_not_match():
    recipe = load_recipe(base_recipe(layers=[{"match": "re:single", "kernel_size": 32}]))
    setting = recipe.setting_for("single_transformer_blocks.3.attn")
    assert setting.source == "default"
    assert setting.window == recipe.default


def test_regex_is_not_a_glob_and_glob_is_not_a_regex():
    recipe = load_recipe(
        base_recipe(
            layers=[
                {"match": "re:blocks.*", "kernel_size": 16},  # regex: "." and ".*" are regex
                {"match": "a.c", "kernel_size": 32},  # glob: "." is literal
            ]
        )
    )
    assert recipe.setting_for("blocksXYZ").window.kernel_size == (16, 16)
    assert recipe.setting_for("abc").source == "default"
    assert recipe.setting_for("a.c").window.kernel_size == (32, 32)


def test_first_match_wins():
    recipe = load_recipe(
        base_recipe(
            layers=[
                {"match": "single_transformer_blocks.3.*", "kernel_size": 16},
                {"match": "single_transformer_blocks.*", "kernel_size": 64},
                {"match": "re:.*", "dense": True},
            ]
        )
    )
    first = recipe.setting_for("single_transformer_blocks.3.attn")
    assert first.window.kernel_size == (16, 16)
    assert "layers[0]" in first.source
    second = recipe.setting_for("single_transformer_blocks.4.attn")
    assert second.window.kernel_size == (64, 64)
    assert "layers[1]" in second.source
    third = recipe.setting_for("transformer_blocks.1.attn")
    assert third.window is None
    assert "layers[2]" in third.source


def test_unmatched_takes_default():
    recipe = load_recipe(base_recipe())
    setting = recipe.setting_for("transformer_blocks.5.attn")
    assert setting.source == "default"
    assert setting.window == recipe.default == window((80, 80), stride=(16, 16))


def test_rule_inherits_missing_keys_from_default():
    recipe = load_recipe(
        base_recipe(
            default={"kernel_size": [80, 80], "stride": [8, 8], "dilation": [2, 3]},
            layers=[{"match": "x", "kernel_size": [32, 40]}],
        )
    )
    rule_window = recipe.setting_for("x").window
    assert rule_window.kernel_size == (32, 40)
    assert rule_window.stride == (8, 8)
    assert rule_window.dilation == (2, 3)
    assert rule_window.is_causal == (False, False)


def test_rule_inherits_is_causal_and_can_override_stride():
    recipe = load_recipe(
        base_recipe(
            default={"kernel_size": 16, "stride": 4, "is_causal": [True, False]},
            layers=[{"match": "x", "stride": 2}],
        )
    )
    rule_window = recipe.setting_for("x").window
    assert rule_window == window((16, 16), stride=(2, 2), causal=(True, False))


def test_dense_rule_gives_no_window():
    recipe = load_recipe(base_recipe())
    setting = recipe.setting_for("transformer_blocks.0.attn")
    assert setting.window is None
    assert "layers[0]" in setting.source


def test_dense_default_rule_with_kernel_gets_unit_stride_and_dilation():
    recipe = load_recipe(
        base_recipe(default={"dense": True}, layers=[{"match": "blk.*", "kernel_size": [12, 20]}])
    )
    rule_window = recipe.setting_for("blk.1").window
    assert rule_window == window((12, 20), stride=(1, 1), dilation=(1, 1))
    unmatched = recipe.setting_for("other")
    assert unmatched.window is None and unmatched.source == "default"


def test_rule_dense_false_with_window():
    recipe = load_recipe(
        base_recipe(default={"dense": True}, layers=[{"match": "x", "dense": False, "kernel_size": 4}])
    )
    assert recipe.setting_for("x").window == window((4, 4))


# ============================================================================================
# 4. Bad recipes: RecipeError naming the field and the value
# ============================================================================================


def test_recipe_error_is_value_error():
    assert issubclass(RecipeError, ValueError)
    with pytest.raises(ValueError):
        load_recipe(base_recipe(default={"kernel_size": 1}))


def _d(**window_keys):
    """A recipe whose default is ``window_keys`` and which has no layers."""
    return base_recipe(default=window_keys, layers=[])


def _r(rule, default=None):
    """A recipe with a single rule ``rule`` (and the base default unless given)."""
    data = base_recipe(layers=[rule])
    if default is not None:
        data["default"] = default
    return data


def _without(key):
    data = base_recipe()
    del data[key]
    return data


# (recipe dict, regex for the field, regex for the bad value)
BAD_RECIPES = [
    # --- window below 2
    pytest.param(_d(kernel_size=1), r"recipe\.default\.kernel_size", r"got 1\b", id="kernel-1"),
    pytest.param(
        _d(kernel_size=[80, 1]), r"recipe\.default\.kernel_size\[1\]", r"got 1\b", id="kernel-axis1-1"
    ),
    pytest.param(
        _r({"match": "x", "kernel_size": [1, 8]}),
        r"recipe\.layers\[0\]\.kernel_size",
        r"got 1\b",
        id="rule-kernel-1",
    ),
    # --- stride larger than window
    pytest.param(
        _d(kernel_size=[16, 16], stride=[32, 8]),
        r"recipe\.default\.stride",
        r"stride 32\b.*kernel_size 16\b",
        id="stride-gt-kernel",
    ),
    pytest.param(
        _r({"match": "x", "kernel_size": [8, 8]}),  # stride 16 inherited from default
        r"recipe\.default\.stride.*recipe\.layers\[0\]\.kernel_size",
        r"stride 16\b.*kernel_size 8\b",
        id="inherited-stride-gt-rule-kernel",
    ),
    pytest.param(
        _r({"match": "x", "stride": [4, 100]}),
        r"recipe\.layers\[0\]\.stride",
        r"stride 100\b.*kernel_size 80\b",
        id="rule-stride-gt-inherited-kernel",
    ),
    # --- non-integers
    pytest.param(_d(kernel_size=80.0), r"recipe\.default\.kernel_size", r"got 80\.0", id="float"),
    pytest.param(_d(kernel_size="80"), r"recipe\.default\.kernel_size", r"got '80'", id="str"),
    pytest.param(_d(kernel_size=True), r"recipe\.default\.kernel_size", r"got True", id="bool"),
    pytest.param(
        _d(kernel_size=[80, True]), r"recipe\.default\.kernel_size\[1\]", r"got True", id="bool-in-list"
    ),
    pytest.param(
        _d(kernel_size=8, stride=2.5), r"recipe\.default\.stride", r"got 2\.5", id="float-stride"
    ),
    pytest.param(
        _d(kernel_size=8, dilation=[1, "2"]), r"recipe\.default\.dilation\[1\]", r"got '2'", id="str-dilation"
    ),
    # --- out-of-range numbers
    pytest.param(_d(kernel_size=8, stride=-1), r"recipe\.default\.stride", r"got -1\b", id="stride-neg"),
    pytest.param(_d(kernel_size=8, stride=0), r"recipe\.default\.stride", r"got 0\b", id="stride-0"),
    pytest.param(_d(kernel_size=8, dilation=0), r"recipe\.default\.dilation", r"got 0\b", id="dilation-0"),
    pytest.param(
        _r({"match": "x", "dilation": [1, -3]}),
        r"recipe\.layers\[0\]\.dilation\[1\]",
        r"got -3\b",
        id="rule-dilation-neg",
    ),
    # --- wrong number of axes
    pytest.param(
        _d(kernel_size=[80, 80, 80]), r"recipe\.default\.kernel_size", r"\[80, 80, 80\]", id="3-axes"
    ),
    pytest.param(_d(kernel_size=[80]), r"recipe\.default\.kernel_size", r"\[80\]", id="1-axis"),
    pytest.param(
        _d(kernel_size=8, stride=[1, 1, 1]), r"recipe\.default\.stride", r"\[1, 1, 1\]", id="3-axes-stride"
    ),
    pytest.param(
        _d(kernel_size=8, is_causal=[True]), r"recipe\.default\.is_causal", r"\[True\]", id="1-axis-causal"
    ),
    # --- unknown keys (the message lists the allowed keys)
    pytest.param(
        base_recipe(windw=3), r"recipe\b", r"'windw'.*allowed keys.*'default'.*'description'", id="unknown-top"
    ),
    pytest.param(
        _d(kernel_size=8, kernal=3),
        r"recipe\.default\b",
        r"'kernal'.*allowed keys.*'kernel_size'.*'stride'",
        id="unknown-default",
    ),
    pytest.param(
        _d(kernel_size=8, match="x"),  # match is for rules only
        r"recipe\.default\b",
        r"'match'.*allowed keys",
        id="match-in-default",
    ),
    pytest.param(
        _r({"match": "x", "kernel": 3}),
        r"recipe\.layers\[0\]",
        r"'kernel'.*allowed keys.*'match'.*'kernel_size'",
        id="unknown-rule",
    ),
    # --- model
    pytest.param(_without("model"), r"recipe\.model", r"missing.*'flux'", id="missing-model"),
    pytest.param(base_recipe(model="sd3"), r"recipe\.model", r"'sd3'.*'flux'", id="unknown-model"),
    pytest.param(base_recipe(model=["flux"]), r"recipe\.model", r"\['flux'\]", id="model-list"),
    # --- dense_steps
    pytest.param(base_recipe(dense_steps=-1), r"recipe\.dense_steps", r"got -1\b", id="dense-steps-neg"),
    pytest.param(base_recipe(dense_steps=1.5), r"recipe\.dense_steps", r"got 1\.5", id="dense-steps-float"),
    pytest.param(base_recipe(dense_steps="2"), r"recipe\.dense_steps", r"got '2'", id="dense-steps-str"),
    pytest.param(base_recipe(dense_steps=True), r"recipe\.dense_steps", r"got True", id="dense-steps-bool"),
    # --- missing pieces
    pytest.param(_without("default"), r"recipe\.default", r"missing", id="missing-default"),
    pytest.param(_d(stride=4), r"recipe\.default\.kernel_size", r"missing", id="missing-kernel"),
    pytest.param(
        _r({"match": "x", "stride": 1}, default={"dense": True}),
        r"recipe\.layers\[0\]\.kernel_size",
        r"missing",
        id="rule-missing-kernel-under-dense-default",
    ),
    pytest.param(
        _r({"kernel_size": 8}), r"recipe\.layers\[0\]\.match", r"got None", id="rule-without-match"
    ),
    pytest.param(
        _r({"match": "", "kernel_size": 8}), r"recipe\.layers\[0\]\.match", r"got ''", id="rule-empty-match"
    ),
    pytest.param(
        _r({"match": 5, "kernel_size": 8}), r"recipe\.layers\[0\]\.match", r"got 5\b", id="rule-match-int"
    ),
    pytest.param(
        _r({"match": "re:single_(", "kernel_size": 8}),
        r"recipe\.layers\[0\]\.match",
        r"invalid regex 'single_\('",
        id="invalid-regex",
    ),
    # --- dense flag
    pytest.param(
        _r({"match": "x", "dense": True, "kernel_size": [8, 8]}),
        r"recipe\.layers\[0\]",
        r"dense: true.*\['kernel_size'\]",
        id="dense-with-kernel",
    ),
    pytest.param(
        _d(dense=True, stride=2), r"recipe\.default\b", r"dense: true.*\['stride'\]", id="dense-default-with-stride"
    ),
    pytest.param(_d(dense="yes"), r"recipe\.default\.dense", r"got 'yes'", id="dense-str"),
    pytest.param(
        _r({"match": "x", "dense": 1}), r"recipe\.layers\[0\]\.dense", r"got 1\b", id="dense-int"
    ),
    # --- is_causal
    pytest.param(
        _d(kernel_size=8, is_causal="no"), r"recipe\.default\.is_causal", r"got 'no'", id="causal-str"
    ),
    pytest.param(
        _d(kernel_size=8, is_causal=[True, 0]),
        r"recipe\.default\.is_causal\[1\]",
        r"got 0\b",
        id="causal-int-in-list",
    ),
    # --- structure
    pytest.param(
        base_recipe(layers={"match": "x", "kernel_size": 8}), r"recipe\.layers", r"got dict", id="layers-dict"
    ),
    pytest.param(base_recipe(layers="single_*"), r"recipe\.layers", r"got str", id="layers-str"),
    pytest.param(base_recipe(layers=7), r"recipe\.layers", r"got int", id="layers-int"),
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


def test_top_level_not_a_mapping_in_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- model: flux\n- default: {kernel_size: 8}\n")
    with pytest.raises(RecipeError, match=r"top level") as info:
        load_recipe(path)
    assert info.match(r"got list")


def test_unknown_shipped_name():
    with pytest.raises(RecipeError, match=r"recipe\b.*unknown shipped recipe") as info:
        load_recipe("no_such_recipe")
    assert info.match(r"'no_such_recipe'")
    assert info.match(r"'flux_gna'")  # lists what is shipped


def test_nonexistent_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(RecipeError, match=r"recipe\b.*does not exist") as info:
        load_recipe(str(path))
    assert info.match(r"missing\.yaml")
    with pytest.raises(RecipeError, match=r"does not exist"):
        load_recipe(path)


@pytest.mark.parametrize(
    "filename, text",
    [
        ("bad.yaml", "model: flux\ndefault: {kernel_size: [80, 80\n"),
        ("bad.yml", "model: [flux\n  : :\n"),
        ("bad.json", '{"model": "flux", "default": '),
    ],
)
def test_invalid_file_text(tmp_path, filename, text):
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(RecipeError, match=r"not valid (YAML|JSON)") as info:
        load_recipe(path)
    assert info.match(filename.replace(".", r"\."))


def test_bad_value_in_file_names_field(tmp_path):
    path = tmp_path / "bad_value.yaml"
    path.write_text("model: flux\ndefault:\n  kernel_size: [80, 80]\n  stride: [16, 160]\n")
    with pytest.raises(RecipeError, match=r"recipe\.default\.stride") as info:
        load_recipe(path)
    assert info.match(r"stride 160\b")


# ============================================================================================
# 5. WindowSpec.resolve and ResolvedWindow
# ============================================================================================


def test_resolve_fits_no_clamping():
    spec = window((80, 80), stride=(16, 16), dilation=(1, 2))
    resolved = spec.resolve((256, 192))
    assert isinstance(resolved, ResolvedWindow)
    assert resolved.grid == (256, 192)
    assert resolved.kernel_size == (80, 80)
    assert resolved.stride == (16, 16)
    assert resolved.dilation == (1, 2)
    assert resolved.is_causal == (False, False)
    assert resolved.clamped_axes == ()
    assert not resolved.covers_grid


def test_resolve_exact_fit_is_not_clamped():
    resolved = window((8, 4), dilation=(1, 2)).resolve((8, 8))  # 8*1 == 8, 4*2 == 8
    assert resolved.kernel_size == (8, 4)
    assert resolved.dilation == (1, 2)
    assert resolved.clamped_axes == ()
    assert not resolved.covers_grid  # axis 1 sees only 4 of 8 tokens


def test_resolve_clamps_axis_that_does_not_fit():
    spec = window((80, 80), stride=(16, 16), dilation=(1, 1))
    resolved = spec.resolve((64, 128))
    assert resolved.kernel_size == (64, 80)
    assert resolved.stride == (1, 16)
    assert resolved.dilation == (1, 1)
    assert resolved.clamped_axes == (0,)
    assert not resolved.covers_grid


def test_resolve_clamps_when_dilation_makes_window_too_large():
    spec = window((8, 8), stride=(4, 2), dilation=(3, 1))
    resolved = spec.resolve((20, 20))  # 8*3 = 24 > 20 on axis 0 only
    assert resolved.kernel_size == (20, 8)
    assert resolved.stride == (1, 2)
    assert resolved.dilation == (1, 1)
    assert resolved.clamped_axes == (0,)


def test_resolve_covers_grid_when_all_axes_full():
    resolved = window((80, 80), stride=(16, 16)).resolve((32, 48))
    assert resolved.kernel_size == (32, 48)
    assert resolved.stride == (1, 1)
    assert resolved.clamped_axes == (0, 1)
    assert resolved.covers_grid
    assert resolved.density == pytest.approx(1.0)


def test_resolve_full_but_causal_does_not_cover_grid():
    resolved = window((80, 80), causal=(True, False)).resolve((32, 48))
    assert resolved.kernel_size == (32, 48)
    assert resolved.is_causal == (True, False)
    assert not resolved.covers_grid


def test_resolve_axis_of_length_one():
    resolved = window((4, 4), stride=(2, 2)).resolve((1, 16))
    assert resolved.kernel_size == (1, 4)
    assert resolved.stride == (1, 2)
    assert resolved.clamped_axes == (0,)


def test_resolve_wrong_number_of_axes():
    with pytest.raises(ValueError, match=r"axes"):
        window((4, 4)).resolve((16,))


def test_resolve_from_loaded_recipe():
    recipe = load_recipe(base_recipe())
    resolved = recipe.default.resolve((64, 256))  # 1024x4096 pixels
    assert resolved.kernel_size == (64, 80)
    assert resolved.clamped_axes == (0,)


@pytest.mark.parametrize(
    "grid, kernel, stride, dilation, causal, expected",
    [
        # n=7, k=3, s=1: every query sees exactly 3 keys -> 21/49 = 3/7.
        ((7,), (3,), (1,), (1,), (False,), 3 / 7),
        # n=6, k=2, s=2: every query sees 2 keys -> 12/36.
        ((6,), (2,), (2,), (1,), (False,), 2 / 6),
        # n=6, k=2, d=2: groups {0,2,4} and {1,3,5}; every query sees 2 of its group -> 12/36.
        ((6,), (2,), (1,), (2,), (False,), 2 / 6),
        # n=4, k=2 causal: query 0 sees {0}; 1 sees {0,1}; 2 sees {1,2}; 3 sees {2,3} -> 7/16.
        ((4,), (2,), (1,), (1,), (True,), 7 / 16),
        # Product of per-axis densities: (3/6) * (3/6).
        ((6, 6), (3, 3), (1, 1), (1, 1), (False, False), (3 / 6) * (3 / 6)),
        # Full axis times 3/7.
        ((5, 7), (5, 3), (1, 1), (1, 1), (False, False), 1.0 * 3 / 7),
    ],
)
def test_density_matches_hand_count(grid, kernel, stride, dilation, causal, expected):
    resolved = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
    assert resolved.clamped_axes == ()
    assert resolved.density == pytest.approx(expected, rel=1e-6)


def test_density_independent_brute_force_1d():
    # Count query-key pairs of a non-causal 1-D window (stride 1) from the definition: the window
    # of k keys is centered on the query and shifted inward at the borders.
    n, k = 9, 4
    pairs = 0
    for i in range(n):
        start = min(max(i - k // 2, 0), n - k)
        pairs += len(range(start, start + k))
    expected = pairs / (n * n)
    assert expected == pytest.approx(4 / 9)
    resolved = window((k,), stride=(1,), dilation=(1,), causal=(False,)).resolve((n,))
    assert resolved.density == pytest.approx(expected, rel=1e-6)


def test_describe_mentions_window_and_clamping():
    resolved = window((80, 80), stride=(16, 16)).resolve((64, 256))
    text = resolved.describe()
    assert "64x80" in text and "stride 1x16" in text
    assert "clamped" in text and "[0]" in text
    assert window((8, 8), causal=(True, False)).describe().endswith("causal 1x0")


# ============================================================================================
# Resolution-aware recipes: recipe.scaling (relative windows, overrides, snapping)
# ============================================================================================

from na_accel.recipe.scaling import SnapContext  # noqa: E402
from na_accel.kernels.tilecount import axis_tiles  # noqa: E402
from na_accel.kernels.tiles import TileShape, default_tiles  # noqa: E402


def scaled_recipe(**scaling):
    return load_recipe(base_recipe(layers=[], scaling=scaling))


def assert_natten_legal(resolved):
    for n, k, s, d in zip(resolved.grid, resolved.kernel_size, resolved.stride, resolved.dilation):
        if n == 1:
            continue
        assert 2 <= k <= n and k * d <= n and 1 <= s <= k, resolved


def test_recipe_without_scaling_resolves_like_windowspec():
    recipe = load_recipe(base_recipe(layers=[]))
    assert recipe.scaling is None
    for grid in [(256, 256), (64, 96), (5, 7), (1, 300)]:
        assert recipe.resolve(recipe.default, grid, SnapContext("hopper-fna")) == recipe.default.resolve(grid)


def test_absolute_mode_is_todays_behaviour():
    recipe = scaled_recipe(mode="absolute")
    for grid in [(256, 256), (64, 96), (5, 7)]:
        assert recipe.resolve(recipe.default, grid) == recipe.default.resolve(grid)


def test_relative_mode_scales_kernel_and_stride_per_axis():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256])
    resolved = recipe.resolve(recipe.default, (128, 64))
    assert resolved.kernel_size == (40, 20) and resolved.stride == (8, 4)
    assert "relative" in resolved.scaled
    assert recipe.resolve(recipe.default, (256, 256)).kernel_size == (80, 80)


def test_relative_mode_takes_the_tuned_grid_from_tuned_for():
    recipe = load_recipe(base_recipe(layers=[], tuned_for={"token_grid": [128, 128]}, scaling={"mode": "relative"}))
    assert recipe.resolve(recipe.default, (64, 64)).kernel_size == (40, 40)


@pytest.mark.parametrize("seed", range(4))
def test_relative_and_snapped_windows_are_always_legal(seed):
    rng = random.Random(seed)
    for snap in (False, "auto", "blackwell-fna", {"q_tile": [3, 5], "kv_tile": [7, 2]}):
        recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap=snap)
        for _ in range(40):
            grid = (rng.choice([1, 2, 3, rng.randint(2, 400)]), rng.randint(1, 400))
            resolved = recipe.resolve(recipe.default, grid, SnapContext("hopper-fna"))
            assert_natten_legal(resolved)


def test_snap_keeps_an_already_perfect_window():
    recipe = scaled_recipe(snap="hopper-fna")
    resolved = recipe.resolve(recipe.default, (256, 256))
    assert (resolved.kernel_size, resolved.stride) == ((80, 80), (16, 16))
    assert resolved.snapped.startswith("snapped to hopper-fna")


@pytest.mark.parametrize("backend", ["hopper-fna", "blackwell-fna", "flex-fna", "cutlass-fna"])
def test_snapped_windows_are_perfectly_block_sparse_where_the_grid_allows(backend):
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="auto")
    tiles = default_tiles(backend, 2)
    for grid in [(64, 64), (128, 128), (64, 96), (96, 64), (128, 72), (192, 320)]:
        resolved = recipe.resolve(recipe.default, grid, SnapContext(backend))
        assert_natten_legal(resolved)
        for axis, n in enumerate(grid):
            counts = axis_tiles(n, resolved.kernel_size[axis], resolved.stride[axis], 1, False,
                                tiles.q_tile[axis], tiles.kv_tile[axis])
            if n % tiles.q_tile[axis] == 0 and n % tiles.kv_tile[axis] == 0:
                assert counts.block_sparse, (backend, grid, resolved)


def test_snapping_on_odd_grids_aligns_interior_windows():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="hopper-fna")
    for grid in [(67, 101), (97, 131), (33, 45), (257, 251)]:  # multiples of nothing
        resolved = recipe.resolve(recipe.default, grid)
        assert_natten_legal(resolved)
        for axis, (tq, tk) in enumerate(((16, 16), (8, 8))):
            k, s = resolved.kernel_size[axis], resolved.stride[axis]
            if k == grid[axis]:
                continue  # whole axis
            assert s % tq == 0 and k % tk == 0 and (k // 2 - s // 2) % tk == 0, (grid, resolved)


def test_an_axis_inside_one_tile_becomes_the_whole_axis():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="flex-fna")
    resolved = recipe.resolve(recipe.default, (5, 40))
    assert resolved.kernel_size[0] == 5 and 0 in resolved.clamped_axes


def test_snap_auto_without_a_backend_leaves_the_window_and_says_so():
    recipe = scaled_recipe(snap="auto")
    resolved = recipe.resolve(recipe.default, (100, 100))
    assert resolved.kernel_size == (80, 80) and "not snapped" in resolved.snapped


def test_explicit_snap_tiles_drop_size_one_axes():
    recipe = load_recipe({"model": "hunyuan_video", "default": {"kernel_size": [3, 12, 12], "stride": [1, 2, 2]},
                          "scaling": {"snap": {"q_tile": [4, 4, 8], "kv_tile": [4, 4, 8]}}})
    resolved = recipe.resolve(recipe.default, (1, 32, 64))
    assert resolved.kernel_size[0] == 1  # the frame axis: dropped
    assert resolved.stride[1] % 4 == 0 and resolved.stride[2] % 8 == 0


def test_overrides_apply_to_their_exact_grid_only():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="hopper-fna",
                           overrides=[{"grid": [64, 64], "kernel_size": [48, 48], "stride": [16, 16]}])
    at = recipe.resolve(recipe.default, (64, 64))
    assert (at.kernel_size, at.stride, at.snapped) == ((48, 48), (16, 16), None)
    assert "override" in at.scaled
    assert recipe.resolve(recipe.default, (64, 65)).kernel_size != (48, 48)


def test_scaling_changes_the_hash_and_round_trips():
    plain = load_recipe(base_recipe())
    relative = load_recipe(base_recipe(scaling={"mode": "relative", "tuned_grid": [256, 256]}))
    snapped = load_recipe(base_recipe(scaling={"mode": "relative", "tuned_grid": [256, 256], "snap": "auto"}))
    other_grid = load_recipe(base_recipe(scaling={"mode": "relative", "tuned_grid": [128, 128]}))
    assert len({plain.hash, relative.hash, snapped.hash, other_grid.hash}) == 4
    assert load_recipe(snapped.to_dict()) == snapped
    # tuned_for is metadata unless scaling uses it
    assert load_recipe(base_recipe(tuned_for={"token_grid": [1, 1]})).hash == plain.hash
    via_tuned_for = load_recipe(base_recipe(tuned_for={"token_grid": [128, 128]}, scaling={"mode": "relative"}))
    assert via_tuned_for.hash != relative.hash


@pytest.mark.parametrize("scaling,message", [
    ("relative", r"recipe.scaling: expected a mapping"),
    ({"mode": "stretch"}, r"recipe.scaling.mode: unknown mode 'stretch'; allowed: \['absolute', 'relative'\]"),
    ({"mode": "relative"}, r"recipe.scaling.tuned_grid: missing"),
    ({"mode": "relative", "tuned_grid": [256]}, r"recipe.scaling.tuned_grid: expected a list of 2 integers"),
    ({"mode": "relative", "tuned_grid": [256, 0]}, r"tuned_grid\[1\] \(width\): expected an integer >= 1, got 0"),
    ({"snap": "tpu"}, r"recipe.scaling.snap: unknown tile source 'tpu'"),
    ({"snap": {"q_tile": [16, 8]}}, r"recipe.scaling.snap: expected exactly the keys q_tile and kv_tile"),
    ({"snap": {"q_tile": [16, 8], "kv_tile": [16]}}, r"recipe.scaling.snap.kv_tile: expected a list of 2"),
    ({"scale": 2}, r"recipe.scaling: unknown key\(s\) \['scale'\]"),
    ({"overrides": [{"kernel_size": 8}]}, r"recipe.scaling.overrides\[0\]: expected a mapping with 'grid'"),
    ({"overrides": [{"grid": [8, 8], "kernel_size": 9}]}, r"overrides\[0\].kernel_size: kernel 9 x dilation 1"),
    ({"overrides": [{"grid": [8, 8], "kernel_size": 4, "stride": 5}]}, r"stride 5 on axis 0 .* larger than"),
    ({"overrides": [{"grid": [8, 8], "dense": True}]}, r"overrides\[0\].dense"),
    ({"overrides": [{"grid": [8, 8], "kernel_size": 4}, {"grid": [8, 8], "kernel_size": 2}]}, r"given twice"),
])
def test_bad_scaling_sections_name_field_value_and_choices(scaling, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(base_recipe(scaling=scaling))


@pytest.mark.parametrize("height,width", [(1024, 1024), (2048, 2048), (4096, 4096), (1024, 1536), (1360, 768), (1008, 752)])
def test_shipped_flux_gna_at_many_sizes(height, width):
    from na_accel.tools.estimate import estimate_recipe

    result = estimate_recipe("flux_gna", height=height, width=width)
    window = result.rows[0].estimate.window
    assert_natten_legal(window)
    assert not window.covers_grid  # sparse at every listed size (no longer clamped to dense at 1K)
    assert 0.85 <= 1 - result.rows[0].estimate.density <= 0.95  # the relative window keeps ~90% sparsity
    if height % 128 == 0 and width % 128 == 0:  # 16x8 hopper tiles of 16-pixel tokens
        assert result.rows[0].estimate.block_sparse


@pytest.mark.parametrize("height,width,frames", [(720, 1280, 129), (544, 960, 129), (768, 1280, 117)])
def test_shipped_hunyuan_video_gna_sizes(height, width, frames):
    from na_accel.tools.estimate import estimate_recipe

    result = estimate_recipe("hunyuan_video_gna", height=height, width=width, frames=frames)
    window = result.rows[0].estimate.window
    assert_natten_legal(window)
    assert 0.85 <= 1 - result.rows[0].estimate.density <= 0.95
    if result.grid == (30, 48, 80):  # the published configuration, unchanged
        assert (window.kernel_size, window.stride) == ((18, 24, 24), (16, 8, 8))


# ============================================================================================
# 8. Ranges: every number scaling multiplies is bounded at load time (never mid-generation)
# ============================================================================================

RELATIVE = {"mode": "relative", "tuned_grid": [256, 256]}
OUT_OF_RANGE = [
    (_d(kernel_size=MAX_AXIS + 1), r"recipe\.default\.kernel_size", MAX_AXIS + 1, f"[2, {MAX_AXIS}]"),
    (_d(kernel_size=[8, 8], stride=[1, MAX_AXIS + 1]), r"recipe\.default\.stride\[1\] \(width\)", MAX_AXIS + 1,
     f"[1, {MAX_AXIS}]"),
    (_d(kernel_size=8, dilation=MAX_AXIS + 1), r"recipe\.default\.dilation", MAX_AXIS + 1, f"[1, {MAX_AXIS}]"),
    (_r({"match": "x", "kernel_size": [8, MAX_AXIS * 4]}), r"recipe\.layers\[0\]\.kernel_size\[1\]", MAX_AXIS * 4,
     f"[2, {MAX_AXIS}]"),
    (base_recipe(dense_steps=MAX_DENSE_STEPS + 1), r"recipe\.dense_steps", MAX_DENSE_STEPS + 1,
     f"[0, {MAX_DENSE_STEPS}]"),
    (base_recipe(scaling={"mode": "relative", "tuned_grid": [256, MAX_AXIS + 1]}),
     r"recipe\.scaling\.tuned_grid\[1\] \(width\)", MAX_AXIS + 1, f"[1, {MAX_AXIS}]"),
    (base_recipe(tuned_for={"token_grid": [MAX_AXIS + 1, 256]}, scaling={"mode": "relative"}),
     r"recipe\.tuned_for\.token_grid\[0\] \(height\)", MAX_AXIS + 1, f"[1, {MAX_AXIS}]"),
    (base_recipe(scaling={"overrides": [{"grid": [8, 10**6], "kernel_size": 4}]}),
     r"recipe\.scaling\.overrides\[0\]\.grid\[1\]", 10**6, f"[1, {MAX_AXIS}]"),
    (base_recipe(scaling={"snap": {"q_tile": [16, 8], "kv_tile": [16, 10**7]}}),
     r"recipe\.scaling\.snap\.kv_tile\[1\]", 10**7, f"[1, {MAX_AXIS}]"),
]


@pytest.mark.parametrize("data, field, value, allowed", OUT_OF_RANGE)
def test_numbers_out_of_range_name_field_value_and_range(data, field, value, allowed):
    with pytest.raises(RecipeError, match=field) as info:
        load_recipe(data)
    assert info.match(rf"\b{value}\b")
    assert allowed in str(info.value)


def test_the_largest_allowed_values_load_and_resolve():
    recipe = load_recipe(base_recipe(layers=[], dense_steps=MAX_DENSE_STEPS, scaling=RELATIVE,
                                     default={"kernel_size": MAX_AXIS, "stride": MAX_AXIS, "dilation": MAX_AXIS}))
    window = recipe.resolve(recipe.default, (5, 7))
    assert window.covers_grid  # clamped to the grid: a huge window is just dense


@pytest.mark.parametrize("kernel", [10**400, 10**20, MAX_AXIS + 1], ids=["10**400", "10**20", "MAX_AXIS+1"])
def test_an_absurd_relative_window_fails_at_patch_not_mid_generation(kernel):
    from na_accel.tiny import TINY_PIPELINES

    factory, call = TINY_PIPELINES["tiny-flux"]
    pipe = factory()
    stock = {name: m.processor for name, m in pipe.transformer.named_modules() if hasattr(m, "processor")}
    absurd = base_recipe(layers=[], default={"kernel_size": kernel, "stride": 1}, scaling=RELATIVE)
    with pytest.raises(RecipeError, match=r"recipe\.default\.kernel_size"):
        na_accel.patch(pipe, absurd, backend="reference")
    assert {name: m.processor for name, m in pipe.transformer.named_modules() if hasattr(m, "processor")} == stock
    pipe(**{**call(), "num_inference_steps": 1})  # the untouched pipeline still generates
