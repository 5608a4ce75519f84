"""Tests for na_accel.recipe.sources: a bare name is a shipped recipe, a path is a path, and the
loaded recipe says where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import na_accel
from na_accel import Recipe, RecipeError, list_recipes, load_recipe
from na_accel.cli import main
from na_accel.families.registry import supported_families
from helpers.sample_recipes import base_recipe, window

LOCAL = {"model": "wan", "dense_steps": 7, "default": {"kernel_size": [2, 4, 4]}}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, data=LOCAL) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_local_file_named_like_a_shipped_recipe_does_not_shadow_it(workdir):
    write(workdir / "flux_gna")
    write(workdir / "flux_gna.yaml")
    recipe = load_recipe("flux_gna")
    assert (recipe.model, recipe.dense_steps) == ("flux", 0)
    assert recipe.source.startswith("shipped recipe 'flux_gna' (")
    assert str(workdir) not in recipe.source


@pytest.mark.parametrize("local_name", ["mine", "mine.yaml", "mine.yml", "mine.json"])
def test_a_bare_name_never_loads_a_local_file_but_the_error_points_at_it(workdir, local_name):
    write(workdir / local_name)
    with pytest.raises(RecipeError, match=r"unknown shipped recipe 'mine'.*flux_gna") as info:
        load_recipe("mine")
    assert info.match(rf"did you mean '\./{local_name}'")


def test_an_unknown_bare_name_explains_the_rule(workdir):
    with pytest.raises(RecipeError, match=r"unknown shipped recipe 'nope'") as info:
        load_recipe("nope")
    assert info.match(r"path separator|suffix")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("typo", ["flux_gan", "flux-gna", "wan_gan"])
def test_a_misspelled_shipped_name_suggests_the_near_shipped_recipe(workdir, typo):
    with pytest.raises(RecipeError, match=rf"unknown shipped recipe '{typo}'") as info:
        load_recipe(typo)
    near = {"flux_gan": "flux_gna", "flux-gna": "flux_gna", "wan_gan": "wan_gna"}[typo]
    assert info.match(rf"did you mean '{near}'\?$")


@pytest.mark.parametrize("reference", ["./flux_gna", "flux_gna.yaml", Path("flux_gna")])
def test_a_path_is_a_path(workdir, reference):
    write(workdir / "flux_gna")
    write(workdir / "flux_gna.yaml")
    recipe = load_recipe(reference)
    assert (recipe.model, recipe.dense_steps) == ("wan", 7)
    assert recipe.source == f"file '{(workdir / Path(reference)).absolute()}'".replace("/./", "/")


def test_a_missing_path_named_like_a_shipped_recipe_says_how_to_get_the_shipped_one(workdir):
    with pytest.raises(RecipeError, match=r"flux_gna\.yaml' does not exist") as info:
        load_recipe("flux_gna.yaml")
    assert info.match(r'pass recipe="flux_gna"$')


@pytest.mark.parametrize("command", [
    ["estimate", "--recipe", "flux_gna.yaml"],
    ["bench", "tiny-flux", "--recipe", "flux_gna.yaml"],
    ["compare", "tiny-flux", "--recipe", "flux_gna.yaml"],
    ["demo", "--recipe", "flux_gna.yaml"],
])
def test_on_the_command_line_the_suggestion_is_the_flag(workdir, capsys, command):
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "does not exist" in error and error.count("\n") == 1
    assert error.rstrip().endswith("for the shipped recipe, pass --recipe flux_gna")
    assert "recipe=" not in error


@pytest.mark.parametrize("name,near", [("Flux_GNA", "flux_gna"), ("FLUX_GNA", "flux_gna"), ("Wan_Gan", "wan_gna")])
def test_a_name_in_another_case_suggests_the_shipped_recipe(workdir, name, near):
    with pytest.raises(RecipeError, match=rf"unknown shipped recipe '{name}'") as info:
        load_recipe(name)
    assert info.match(rf"did you mean '{near}'\?$")


def test_a_missing_path_named_like_a_shipped_recipe_in_another_case_says_how_to_get_it(workdir, capsys):
    with pytest.raises(RecipeError, match=r"Flux_GNA\.yaml' does not exist") as info:
        load_recipe("Flux_GNA.yaml")
    assert info.match(r'pass recipe="flux_gna"$')
    assert main(["estimate", "--recipe", "Flux_GNA"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("na-accel: error: --recipe: unknown shipped recipe 'Flux_GNA'")
    assert error.rstrip().endswith("did you mean 'flux_gna'?")


def test_the_source_of_each_form(workdir):
    path = write(workdir / "local.yaml", {"model": "flux", "default": {"kernel_size": 8}})
    from_file = load_recipe(path)
    from_dict = load_recipe(from_file.to_dict())
    shipped = load_recipe("flux_gna")
    assert from_file.source == f"file '{path.absolute()}'"
    assert from_dict.source == "dict"
    assert shipped.source.endswith("flux_gna.yaml)") and Path(shipped.source.split("(", 1)[1][:-1]).is_file()
    # where a recipe came from is not part of its content
    assert from_dict == from_file and from_dict.hash == from_file.hash
    assert load_recipe(shipped.to_dict()) == shipped and load_recipe(shipped.to_dict()).hash == shipped.hash


def test_describe_says_which_recipe_was_loaded(workdir, flux_pipe):
    write(workdir / "flux_gna.yaml", {"model": "flux", "default": {"kernel_size": 3}})
    shipped = na_accel.describe(flux_pipe, "flux_gna")
    local = na_accel.describe(flux_pipe, "./flux_gna.yaml")
    assert "shipped recipe 'flux_gna'" in str(shipped)
    assert f"file '{workdir / 'flux_gna.yaml'}'" in str(local)
    assert local.to_dict()["transformers"][0]["recipe_source"] == f"file '{workdir / 'flux_gna.yaml'}'"
    na_accel.patch(flux_pipe, {"model": "flux", "default": {"kernel_size": 3}})
    assert na_accel.describe(flux_pipe).transformers[0].recipe_source == "dict"


def test_the_cli_points_at_a_local_file(workdir, capsys):
    write(workdir / "mine.yaml", {"model": "flux", "default": {"kernel_size": 3}})
    assert main(["estimate", "--recipe", "mine", "--height", "64", "--width", "80"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("na-accel: error: ") and error.count("\n") == 1
    assert "did you mean './mine.yaml'" in error
    assert main(["estimate", "--recipe", "./mine.yaml", "--height", "64", "--width", "80"]) == 0


# ============================================================================================
# Shipped recipes and recipe files, each form
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
    # Documentation keys are kept as metadata (the name is Recipe.name).
    assert "name" not in recipe.metadata
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


def test_a_recipe_file_is_named_by_its_own_name_key(tmp_path):
    """``tune`` writes ``name: flux_gna_tuned`` into flux_tuned.yaml: the recipe is flux_gna_tuned (the
    stem names only a file without a name key, or with an empty one)."""
    path = tmp_path / "flux_tuned.yaml"
    path.write_text(yaml.safe_dump(base_recipe(name="flux_gna_tuned")))
    assert load_recipe(path).name == "flux_gna_tuned" and load_recipe(str(path)).name == "flux_gna_tuned"
    path.write_text(yaml.safe_dump(base_recipe(name="  ")))
    assert load_recipe(path).name == "flux_tuned"
    path.write_text(yaml.safe_dump(base_recipe(name=5)))
    with pytest.raises(RecipeError, match=r"recipe.name: expected a string or None, got 5"):
        load_recipe(path)


def test_load_json_path(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(base_recipe(default={"kernel_size": 32, "stride": 8})))
    recipe = load_recipe(str(path))
    assert recipe.name == "other"
    assert recipe.default == window((32, 32), stride=(8, 8))
    # Same content as a dict gives the same windows.
    assert recipe.default == load_recipe(json.loads(path.read_text())).default


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
