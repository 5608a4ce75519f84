"""na_accel.cli.arguments: the arguments several subcommands share, and --config-override's parsing."""

import argparse
from pathlib import Path

import pytest

from na_accel.cli import main
from na_accel.cli.arguments import (
    OUTPUT_DIR_POLICY, add_backend_argument, add_model_arguments, add_output_dir_argument, add_size_arguments,
    parse_overrides,
)
from na_accel.errors import ArgumentError
from na_accel.kernels import AUTO, BACKEND_NAMES


def test_overrides_are_json_values_else_strings():
    assert parse_overrides(["num_layers=2", "axes_dims_rope=[4,6,6]", "act=gelu", "scale=0.5", "x=a=b"]) == {
        "num_layers": 2, "axes_dims_rope": [4, 6, 6], "act": "gelu", "scale": 0.5, "x": "a=b",
    }
    assert parse_overrides(None) == {} and parse_overrides([]) == {}


@pytest.mark.parametrize("item", ["num_layers", "=2", ""])
def test_an_override_without_key_and_value_names_the_option(item):
    with pytest.raises(ArgumentError, match=rf"--config-override: {item!r} is not KEY=VALUE \(e.g. num_layers=2\)"):
        parse_overrides([item])


def test_the_backend_argument_defaults_to_the_registrys_auto():
    parser = argparse.ArgumentParser()
    add_backend_argument(parser, "which backend")
    assert parser.parse_args([]).backend == AUTO
    assert parser.parse_args(["--backend", "reference"]).backend == "reference"


@pytest.mark.parametrize("argv", [
    ["demo", "--backend", "cudnn"],
    ["bench", "tiny-flux", "--recipe", "flux_gna", "--backend", "cudnn"],
    ["compare", "tiny-flux", "--recipe", "flux_gna", "--backend", "cudnn"],
])
def test_an_unknown_backend_is_refused_with_the_registrys_names(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"na-accel: error: --backend: unknown backend 'cudnn'; allowed: {list(BACKEND_NAMES)}\n")


def test_size_arguments_default_to_the_owners():
    parser = argparse.ArgumentParser()
    add_size_arguments(parser, "family", "frames help")
    assert vars(parser.parse_args([])) == {"height": None, "width": None, "frames": None}
    assert vars(parser.parse_args(["--height", "64", "--width", "32", "--frames", "5"])) == {
        "height": 64, "width": 32, "frames": 5}
    text = parser.format_help()
    assert "output height in pixels (default: the family's)" in text and "frames help" in text


def test_the_output_dir_argument_says_what_goes_there_and_that_runs_replace_runs(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    parser = argparse.ArgumentParser()
    add_output_dir_argument(parser, "out/here", "the pictures")
    assert parser.parse_args([]).output_dir == Path("out/here")
    assert f"where the pictures go; {OUTPUT_DIR_POLICY} (default: out/here)" in parser.format_help()


def test_model_arguments_take_a_model_and_require_a_recipe(capsys):
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    args = parser.parse_args(["tiny-flux", "--recipe", "flux_gna", "--config-override", "a=1",
                              "--config-override", "b=2"])
    assert (args.model, args.recipe, args.backend, args.dtype, args.device) == (
        "tiny-flux", "flux_gna", AUTO, "float32", "auto")
    assert args.config_override == ["a=1", "b=2"]
    with pytest.raises(SystemExit):
        parser.parse_args(["tiny-flux"])
    assert "--recipe" in capsys.readouterr().err
