"""Recipe files are read with the YAML 1.2 core schema: numbers mean what they look like, and
what YAML 1.1 would have turned into a number or a boolean is a string the checks refuse by name."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from na_accel import RecipeError, load_recipe
from na_accel.recipe.files import RecipeYamlLoader, _parse_yaml

VALID = "model: flux\ndefault: {kernel_size: 8}\n"


def load_text(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_recipe(path)


@pytest.mark.parametrize("text, value", [
    ("010", 10), ("012", 12), ("-007", -7), ("+5", 5), ("0", 0),  # decimal, whatever the leading zeros
    ("0o10", 8), ("0o777", 511), ("0x10", 16), ("0x1F", 31), ("0xff", 255),
    (".5", 0.5), ("1.", 1.0), ("-1.5", -1.5), ("1e3", 1000.0), ("2.5E-2", 0.025), ("+.5e+1", 5.0),
    (".inf", math.inf), ("-.Inf", -math.inf), ("+.INF", math.inf),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
    # YAML 1.1 would have read these as numbers, booleans or dates: strings in YAML 1.2
    ("1:30", "1:30"), ("1_000", "1_000"), ("0b101", "0b101"), ("2025-01-01", "2025-01-01"),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Yes", "Yes"),
    ("0o9", "0o9"), ("-0x1", "-0x1"), ("1.0.0", "1.0.0"), ("=", "="), ("nan", "nan"), ("inf", "inf"),
])
def test_scalars_follow_the_yaml_1_2_core_schema(text, value):
    loaded = _parse_yaml(f"v: {text}\n")["v"]
    assert type(loaded) is type(value) and loaded == value


def test_nan_forms():
    for text in (".nan", ".NaN", ".NAN"):
        assert math.isnan(_parse_yaml(f"v: {text}\n")["v"])


def test_the_shared_safeloader_is_untouched():
    # The loader has its own resolver table; every other PyYAML user still gets YAML 1.1.
    assert RecipeYamlLoader.yaml_implicit_resolvers is not yaml.SafeLoader.yaml_implicit_resolvers
    assert yaml.safe_load("v: [010, 1:30, yes]") == {"v": [8, 90, True]}


def test_leading_zero_kernel_sizes_are_decimal(tmp_path):
    recipe = load_text(tmp_path, "model: flux\ndefault: {kernel_size: [010, 012]}\n")
    assert recipe.default.kernel_size == (10, 12)


def test_octal_and_hex_are_written_out(tmp_path):
    recipe = load_text(tmp_path, "model: flux\ndefault: {kernel_size: [0o10, 0x10]}\n")
    assert recipe.default.kernel_size == (8, 16)


def test_sexagesimal_dense_steps_is_an_error_naming_the_field(tmp_path):
    with pytest.raises(RecipeError) as info:
        load_text(tmp_path, VALID + "dense_steps: 1:30\n")
    message = str(info.value)
    assert message.startswith("recipe.dense_steps: expected an integer >= 0, got '1:30'")
    assert "YAML 1.2" in message and "sexagesimal" in message


def test_digit_separators_are_an_error(tmp_path):
    with pytest.raises(RecipeError, match=r"recipe\.default\.kernel_size: expected an integer >= 2, got '1_000'.*YAML 1\.2"):
        load_text(tmp_path, "model: flux\ndefault: {kernel_size: 1_000}\n")


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Y"])
def test_yaml_1_1_booleans_are_errors_not_silently_true(tmp_path, word):
    with pytest.raises(RecipeError, match=rf"recipe\.default\.is_causal: expected true or false, got '{word}'.*"
                                          "YAML 1.2.*write true or false"):
        load_text(tmp_path, f"model: flux\ndefault: {{kernel_size: 8, is_causal: {word}}}\n")
    with pytest.raises(RecipeError, match=rf"recipe\.layers\[0\]\.dense: expected true or false, got '{word}'"):
        load_text(tmp_path, VALID + f"layers: [{{match: x, dense: {word}}}]\n")
    with pytest.raises(RecipeError, match=rf"recipe\.scaling\.snap: unknown tile source '{word}'.*YAML 1\.2"):
        load_text(tmp_path, VALID + f"scaling: {{snap: {word}}}\n")


def test_real_booleans_still_work(tmp_path):
    recipe = load_text(tmp_path, "model: flux\ndefault: {kernel_size: 8, is_causal: [True, FALSE]}\n"
                                 "layers: [{match: x, dense: true}]\n")
    assert recipe.default.is_causal == (True, False) and recipe.layers[0].window is None


def test_a_float_where_floats_are_allowed(tmp_path):
    recipe = load_text(tmp_path, VALID + "metadata: {cfg: .5, big: 1e3}\n")
    assert recipe.metadata["metadata"] == {"cfg": 0.5, "big": 1000.0}


def test_a_float_where_an_integer_belongs_is_named(tmp_path):
    with pytest.raises(RecipeError, match=r"recipe\.dense_steps: expected an integer >= 0, got 1000\.0"):
        load_text(tmp_path, VALID + "dense_steps: 1e3\n")


@pytest.mark.parametrize("text, what", [
    ("!!bool yes", "not a YAML 1.2 boolean"),
    ("!!int 1_000", "not a YAML 1.2 integer"),
    ("!!float 1_0", "not a YAML 1.2 float"),
])
def test_explicit_tags_follow_the_core_schema_too(tmp_path, text, what):
    with pytest.raises(RecipeError, match=what):
        load_text(tmp_path, VALID + f"metadata: {{v: {text}}}\n")


def test_dates_are_strings(tmp_path):
    recipe = load_text(tmp_path, VALID + "provenance: {date: 2025-01-01}\n")
    assert recipe.metadata["provenance"] == {"date": "2025-01-01"}


def test_long_integers_are_still_refused_before_conversion(tmp_path):
    with pytest.raises(RecipeError, match=r"integer of 400 characters.*2\*\*63"):
        load_text(tmp_path, "model: flux\ndefault: {kernel_size: 0x" + "f" * 398 + "}\n")


def test_every_shipped_recipe_reads_the_same_under_both_schemas():
    # The shipped files use no YAML 1.1-only forms: what they say is unchanged (identity pins the hashes).
    for path in sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert _parse_yaml(text) == yaml.safe_load(text), path.name
