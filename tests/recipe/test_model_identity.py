"""What a recipe says is what a recipe is: ``to_dict`` and ``hash`` derive from the typed fields.

Every behaviour field changes the hash (walked over the dataclasses' fields, so a new field without a
variant here fails); metadata, name and source do not; equal behaviour hashes alike however it is
written; every recipe round-trips through YAML; a ``Recipe(...)`` built in Python is checked like a
dict and fails with the same RecipeError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import yaml

import na_accel
from na_accel import RecipeError, load_recipe
from na_accel.recipe import LayerRule, Recipe, WindowSpec
from na_accel.recipe import model as recipe_model
from na_accel.recipe.scaling import GridOverride, ScalingSpec, SnapSpec
from helpers.sample_recipes import base_recipe, window

# A recipe that uses every field: a causal default, a window rule and a dense rule, and a relative
# scaling section with an override and explicit snap tiles.
RICH = base_recipe(
    dense_steps=2,
    dense_final_steps=1,
    default={"kernel_size": [40, 48], "stride": [8, 16], "dilation": [1, 2], "is_causal": [False, True]},
    layers=[{"match": "single_transformer_blocks.*", "kernel_size": [32, 32]},
            {"match": "re:transformer_blocks\\.0\\..*", "dense": True}],
    scaling={"mode": "relative", "tuned_grid": [128, 96],
             "overrides": [{"grid": [64, 64], "kernel_size": [16, 16], "stride": [8, 8]}],
             "snap": {"q_tile": [16, 8], "kv_tile": [16, 8]}},
)
NOT_BEHAVIOUR = {(Recipe, "name"), (Recipe, "metadata"), (Recipe, "source"), (LayerRule, "index")}


def _first_plus_one(values):
    return [(values[0] + 1,) + values[1:]]


# Other values for each leaf field (and a second kind of value for optional nested ones).
LEAF_CHANGES = {
    "model": lambda v: ["qwen_image"],
    "dense_steps": lambda v: [v + 1],
    "dense_final_steps": lambda v: [v + 1],
    "speed_gate": lambda v: [g for g in ("auto", "sparse", "dense") if g != v],
    "kernel_size": _first_plus_one, "stride": _first_plus_one, "dilation": _first_plus_one,
    "grid": _first_plus_one, "tuned_grid": _first_plus_one, "q_tile": _first_plus_one, "kv_tile": _first_plus_one,
    "is_causal": lambda v: [(not v[0],) + v[1:]],
    "match": lambda v: [v + "x"],
    "mode": lambda v: ["absolute"],
    "source": lambda v: [],  # SnapSpec.source: the snap choices are in OTHER_VALUES
}
OTHER_VALUES = {
    (Recipe, "default"): [None],
    (LayerRule, "window"): [None, window((4, 4))],
    (GridOverride, "window"): [window((4, 4))],
    (Recipe, "scaling"): [None],
    (ScalingSpec, "snap"): [None, SnapSpec("auto"), SnapSpec("hopper-fna")],
}


def variants(value, path, owner=None):
    """(label, changed value) for every way of changing one behaviour field of ``value`` (a field of
    class ``owner``), recursively."""
    name = path.rsplit(".", 1)[-1].split("[")[0]
    for other in OTHER_VALUES.get((owner, name), []):
        if other != value:
            yield f"{path} = {other!r}", other
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            if (type(value), f.name) not in NOT_BEHAVIOUR:
                for label, changed in variants(getattr(value, f.name), f"{path}.{f.name}", type(value)):
                    yield label, dataclasses.replace(value, **{f.name: changed})
    elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        for index, item in enumerate(value):
            for label, changed in variants(item, f"{path}[{index}]", owner):
                yield label, value[:index] + (changed,) + value[index + 1:]
        yield f"{path} without its last entry", value[:-1]
        if len(value) > 1:
            yield f"{path} reversed", value[::-1]
    elif value is not None:
        for changed in LEAF_CHANGES[name](value):
            yield f"{path} = {changed!r}", changed


def test_every_behaviour_field_changes_the_hash_and_the_dict():
    base = load_recipe(RICH)
    found = list(variants(base, "recipe"))
    hashes = {}
    for label, changed in found:
        assert changed != base, label
        assert changed.hash != base.hash and changed.to_dict() != base.to_dict(), label
        assert load_recipe(changed.to_dict()) == changed and load_recipe(changed.to_dict()).hash == changed.hash, label
        hashes.setdefault(changed.hash, []).append(label)
    assert all(len(labels) == 1 for labels in hashes.values()), [ls for ls in hashes.values() if len(ls) > 1]
    # every field of every dataclass was changed (a new field needs a variant here)
    touched = {label.split(" ")[0] for label, _ in found}
    for cls, prefix in ((Recipe, "recipe"), (WindowSpec, "recipe.default"), (LayerRule, "recipe.layers[0]"),
                        (ScalingSpec, "recipe.scaling"), (GridOverride, "recipe.scaling.overrides[0]"),
                        (SnapSpec, "recipe.scaling.snap")):
        for f in dataclasses.fields(cls):
            if (cls, f.name) not in NOT_BEHAVIOUR and not (cls is SnapSpec and f.name == "source"):
                assert any(t == f"{prefix}.{f.name}" or t.startswith(f"{prefix}.{f.name}[")
                           or t.startswith(f"{prefix}.{f.name}.") for t in touched), f"{prefix}.{f.name}"


def test_replace_changes_the_dict_and_the_hash():
    recipe = load_recipe(base_recipe())
    changed = dataclasses.replace(recipe, dense_steps=5)
    assert changed.to_dict()["dense_steps"] == 5 and changed.hash != recipe.hash
    assert changed.hash == load_recipe(base_recipe(dense_steps=5)).hash


def test_metadata_name_and_source_are_not_behaviour():
    recipe = load_recipe(base_recipe())
    for change in ({"name": "other"}, {"metadata": {"description": "d", "notes": ["n"]}}, {"source": "elsewhere"}):
        changed = dataclasses.replace(recipe, **change)
        assert changed.hash == recipe.hash and changed.canonical_form() == recipe.canonical_form()
    assert dataclasses.replace(recipe, name="other").to_dict()["name"] == "other"
    assert dataclasses.replace(recipe, metadata={"notes": "n"}).to_dict()["notes"] == "n"
    assert "source" not in dataclasses.replace(recipe, source="elsewhere").to_dict()
    assert dataclasses.replace(recipe, source="elsewhere") == recipe  # where it came from is not content


def test_the_canonical_form_is_versioned_and_is_what_is_hashed(monkeypatch):
    recipe = load_recipe(RICH)
    canonical = recipe.canonical_form()
    assert canonical["format"] == recipe_model.HASH_FORMAT == 2
    assert not {"name", "source", "description"} & set(canonical)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    assert recipe.hash == hashlib.sha256(text.encode()).hexdigest()[:12]
    monkeypatch.setattr(recipe_model, "HASH_FORMAT", 3)
    assert recipe.hash != hashlib.sha256(text.encode()).hexdigest()[:12]


# Pairs that say the same thing: the defaults omitted or written out.
SAME_BEHAVIOUR = [
    ({"default": {"kernel_size": 8}, "layers": []},
     {"default": {"kernel_size": [8, 8], "stride": 1, "dilation": [1, 1], "is_causal": False}, "layers": None,
      "dense_steps": 0, "dense_final_steps": 0}),
    ({"layers": [{"match": "x", "kernel_size": 32}]},
     {"layers": [{"match": "x", "kernel_size": [32, 32], "stride": [16, 16], "dilation": 1, "dense": False}]}),
    ({}, {"scaling": {}}),
    ({}, {"scaling": {"mode": "absolute", "tuned_grid": [64, 64], "overrides": [], "snap": False}}),
    ({"scaling": {"snap": True}}, {"scaling": {"snap": "auto", "tuned_grid": [8, 8]}, "tuned_for": {"token_grid": [9, 9]}}),
    ({"scaling": {"mode": "relative", "tuned_grid": [256, 256]}},
     {"scaling": {"mode": "relative"}, "tuned_for": {"token_grid": [256, 256]}}),
]


@pytest.mark.parametrize("one, other", SAME_BEHAVIOUR)
def test_equal_behaviour_hashes_alike_however_it_is_written(one, other):
    first, second = load_recipe(base_recipe(**one)), load_recipe(base_recipe(**other))
    assert first.hash == second.hash
    assert first.canonical_form() == second.canonical_form()


def _python_built() -> Recipe:
    return Recipe(
        model="flux", dense_steps=0, default=window((80, 80), stride=(16, 16)),
        layers=(LayerRule("transformer_blocks.0.attn", None), LayerRule("single_transformer_blocks.*",
                                                                       window((64, 64), stride=(16, 16)))),
    )


def test_a_python_built_recipe_is_its_dict_twin():
    built, parsed = _python_built(), load_recipe(base_recipe())
    assert built.to_dict() and built.to_dict() == parsed.to_dict()
    assert built == parsed and built.hash == parsed.hash
    assert load_recipe(built.to_dict()) == built
    assert [rule.index for rule in built.layers] == [0, 1]  # numbered by position
    assert dataclasses.replace(built, layers=built.layers[::-1]).layers[0].label.startswith("layers[0]")


def _yaml_round_trip(recipe: Recipe, tmp_path) -> None:
    path = tmp_path / f"{recipe.name or 'unnamed'}.yaml"
    path.write_text(yaml.safe_dump(recipe.to_dict()))
    loaded = load_recipe(path)
    assert loaded == dataclasses.replace(recipe, name=recipe.name or "unnamed")  # a file's stem names it
    assert loaded.hash == recipe.hash and loaded.to_dict() == load_recipe(loaded.to_dict()).to_dict()


@pytest.mark.parametrize("name", na_accel.list_recipes())
def test_every_shipped_recipe_round_trips(name, tmp_path):
    recipe = load_recipe(name)
    assert load_recipe(recipe.to_dict()) == recipe and load_recipe(recipe.to_dict()).hash == recipe.hash
    _yaml_round_trip(recipe, tmp_path)


@pytest.mark.parametrize("recipe", [lambda: load_recipe(RICH), _python_built,
                                    lambda: load_recipe(base_recipe(name="n", description="d", notes=[1]))],
                         ids=["rich", "python-built", "with-metadata"])
def test_recipes_round_trip_through_yaml(recipe, tmp_path):
    _yaml_round_trip(recipe(), tmp_path)


# The same mistake in a dict and in Python: (a dict change, the Recipe fields that say it).
W = window((8, 8))
SAME_ERROR = [
    ({"dense_steps": -1}, {"dense_steps": -1}),
    ({"dense_steps": True}, {"dense_steps": True}),
    ({"dense_final_steps": 1.5}, {"dense_final_steps": 1.5}),
    ({"model": "sd3"}, {"model": "sd3"}),
    ({"default": {"kernel_size": [8, 8, 8]}}, {"default": window((8, 8, 8), (1, 1), (1, 1), (False,) * 2)}),
    ({"default": {"kernel_size": 1}}, {"default": window((1, 1))}),
    ({"default": {"kernel_size": 8, "stride": [9, 1]}}, {"default": window((8, 8), stride=(9, 1))}),
    ({"default": {"kernel_size": 8, "is_causal": [True, 0]}}, {"default": window((8, 8), causal=(True, 0))}),
    ({"layers": [{"match": "", "kernel_size": 8}]}, {"layers": (LayerRule("", W),)}),
    ({"layers": [{"match": "re:(", "dense": True}]}, {"layers": (LayerRule("re:(", None),)}),
    ({"scaling": {"mode": "stretch"}}, {"scaling": ScalingSpec(mode="stretch")}),
    ({"scaling": {"mode": "relative"}}, {"scaling": ScalingSpec(mode="relative")}),
    ({"scaling": {"snap": "tpu"}}, {"scaling": ScalingSpec(snap=SnapSpec("tpu"))}),
    ({"scaling": {"overrides": [{"grid": [8, 8], "kernel_size": 4}] * 2}},
     {"scaling": ScalingSpec(overrides=(GridOverride((8, 8), window((4, 4))),) * 2)}),
]


@pytest.mark.parametrize("in_dict, in_python", SAME_ERROR)
def test_a_python_built_recipe_fails_like_its_dict(in_dict, in_python):
    with pytest.raises(RecipeError) as from_dict:
        load_recipe({"model": "flux", "default": {"kernel_size": 8}, **in_dict})
    fields = {"model": "flux", "dense_steps": 0, "default": W, **in_python}
    with pytest.raises(RecipeError) as built:
        Recipe(**fields)
    assert str(built.value) == str(from_dict.value)
    with pytest.raises(RecipeError) as replaced:
        dataclasses.replace(Recipe(model="flux", dense_steps=0, default=W), **in_python)
    assert str(replaced.value) == str(from_dict.value)


@pytest.mark.parametrize("fields, message", [
    ({"default": WindowSpec([8, 8], (1, 1), (1, 1), (False, False))}, r"recipe\.default\.kernel_size: expected a tuple"),
    ({"layers": ["x"]}, r"recipe\.layers: expected a tuple of na_accel\.recipe\.LayerRule"),
    ({"default": {"kernel_size": 8}}, r"recipe\.default: expected a na_accel\.recipe\.WindowSpec"),
    ({"name": 3}, r"recipe\.name: expected a string or None, got 3"),
    ({"metadata": {"name": "x"}}, r"recipe\.metadata: unknown key\(s\) \['name'\].*Recipe\.name"),
    ({"metadata": {"notes": object()}}, r"recipe\.notes: expected plain data"),
    ({"scaling": {"mode": "relative"}}, r"recipe\.scaling: expected a na_accel\.recipe\.scaling\.ScalingSpec"),
])
def test_python_only_mistakes_name_the_field(fields, message):
    with pytest.raises(RecipeError, match=message):
        Recipe(**{"model": "flux", "dense_steps": 0, "default": W, **fields})
