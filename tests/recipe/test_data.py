"""Tests for na_accel.recipe.data: recipes passed as Python data are bounded like files."""

from __future__ import annotations

import datetime

import pytest

from na_accel import RecipeError, load_recipe
from na_accel.recipe.data import MAX_DEPTH, MAX_INT, MAX_STRING_CHARS, MAX_VALUES


def recipe(**extra):
    return {"model": "flux", "default": {"kernel_size": 8}, **extra}


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def refused(data, *patterns):
    with pytest.raises(RecipeError) as info:
        load_recipe(data)
    for pattern in patterns:
        assert info.match(pattern), str(info.value)
    assert len(str(info.value)) < 600, "the error stays short whatever the data"
    return str(info.value)


def test_a_self_referencing_dict_is_refused():
    data = recipe()
    data["metadata"] = data
    refused(data, r"recipe\.metadata", r"refers to itself")


def test_a_self_referencing_list_is_refused():
    loop = []
    loop.append(loop)
    refused(recipe(notes=loop), r"recipe\.notes\[0\]", r"refers to itself")


def test_shared_but_acyclic_values_are_fine():
    window = [8, 8]
    assert load_recipe(recipe(default={"kernel_size": window, "stride": window})).default.stride == (8, 8)


def test_deep_nesting_is_refused_naming_the_limit():
    refused(recipe(metadata=nested(20000)), rf"recipe\.metadata(\[0\])+", rf"deeper than {MAX_DEPTH}\b", "MAX_DEPTH")


def test_expanding_shared_values_are_refused_by_count():
    # 10 levels of 10 references to one list: 10**10 values to walk, in a few hundred bytes of Python.
    value = ["lol"] * 10
    for _ in range(9):
        value = [value] * 10
    refused(recipe(metadata=value), rf"more than {MAX_VALUES} values", "MAX_VALUES")


@pytest.mark.parametrize("field, data", [
    (r"recipe\.metadata", recipe(metadata=10**5000)),
    (r"recipe\.notes\[1\]", recipe(notes=[1, -(10**400)])),
    (r"recipe\.default\.kernel_size", recipe(default={"kernel_size": 10**400})),
    (r"recipe\.dense_steps", recipe(dense_steps=MAX_INT + 1)),
], ids=["metadata", "in-a-list", "kernel_size", "dense_steps"])
def test_huge_integers_are_refused(field, data):
    message = refused(data, field, r"2\*\*63")
    assert "0000000000" not in message  # a huge value is named by its size, not printed


def test_non_string_keys_are_refused():
    refused(recipe(metadata={("a", "b"): 1}), r"recipe\.metadata", r"keys must be strings", r"tuple")
    refused(recipe(metadata={1: "x"}), r"recipe\.metadata", r"keys must be strings")


def test_long_strings_are_refused_naming_the_limit():
    refused(recipe(notes="x" * (MAX_STRING_CHARS + 1)), r"recipe\.notes", rf"longer than {MAX_STRING_CHARS}")
    refused(recipe(metadata={"k" * (MAX_STRING_CHARS + 1): 1}), r"recipe\.metadata", r"key longer than")


def test_objects_that_are_not_plain_data_are_refused():
    refused(recipe(metadata={"x": object()}), r"recipe\.metadata\.x", r"plain data", r"object")
    refused(recipe(metadata={"x": {1, 2}}), r"recipe\.metadata\.x", r"set")


def test_plain_data_of_every_kind_is_accepted():
    data = recipe(metadata={"s": "x", "i": -3, "f": 1.5, "b": True, "n": None, "l": [1, (2, 3)],
                            "when": datetime.date(2025, 1, 1)})
    loaded = load_recipe(data)
    assert loaded.to_dict()["metadata"]["l"] == [1, [2, 3]]
    assert loaded.to_dict()["metadata"]["when"] == "2025-01-01"
