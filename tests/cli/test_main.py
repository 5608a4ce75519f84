"""The na-accel command line: the console script pyproject.toml installs, the one list of subcommands and
dispatch; the demo runs end to end and bad arguments fail clearly."""

import argparse
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image

from na_accel.cli import build_parser, main
from na_accel.cli.main import SUBCOMMANDS
from na_accel.errors import ArgumentError
from na_accel.outputs.report import LABEL_STRIP_H, SCALE_STRIP_H

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_and_writes_a_side_by_side(tmp_path, capsys):
    code = main(["demo", "--height", "128", "--width", "160", "--steps", "2", "--output-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "token grid 32x40" in out
    assert "totals: sparse: 16" in out  # 4 layers x 2 steps x 2 calls (true CFG), flux_gna: no dense steps
    reference_diff = float(out.split("GNA vs reference (explicit mask): max |diff| ")[1].split()[0])
    assert reference_diff <= 1e-5
    shows = out.split("What the pictures show")[1]
    assert "  dense " in shows and "  GNA " in shows
    with Image.open(tmp_path / "side_by_side.png") as image:  # the panels' names above, the heat map's colour bar under
        assert image.size == (3 * 160, LABEL_STRIP_H + 128 + SCALE_STRIP_H)


def test_demo_with_a_recipe_file(tmp_path, capsys):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("model: flux\nname: mine\ndefault: {kernel_size: [5, 5]}\n"
                      "layers:\n  - match: transformer_blocks.0.attn\n    dense: true\n")
    assert main(["demo", "--recipe", str(recipe), "--height", "64", "--width", "64", "--steps", "1",
                 "--output-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "recipe mine [" in out and "transformer_blocks.0.attn         dense" in out


@pytest.mark.parametrize("argv,message", [
    (["demo", "--height", "42"], "--height: 42 is not valid for tiny-flux-shapes; allowed: a multiple of 4 pixels in [4, 262144]"),
    (["demo", "--prompt", " "], "--prompt: ' ' is empty; allowed: some text, or leave --prompt out for the default "
                                "('a blue square at the bottom right')"),
    (["demo", "--steps", "0"], "--steps: 0 is not valid; allowed: an integer in [1, 1000]"),
    (["demo", "--recipe", "nope"], "unknown shipped recipe 'nope'"),
    (["demo", "--backend", "cudnn"], "unknown backend 'cudnn'"),
])
def test_bad_arguments_exit_non_zero_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_recipes_lists_shipped_recipes(capsys):
    assert main(["recipes"]) == 0
    assert "flux_gna: model flux" in capsys.readouterr().out


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "na_accel.cli", "recipes"], capture_output=True, text=True)
    assert result.returncode == 0 and "flux_gna" in result.stdout


def test_demo_checks_its_output_dir_before_running(tmp_path, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("mine")
    assert main(["demo", "--steps", "1", "--output-dir", str(blocker)]) == 2
    captured = capsys.readouterr()
    assert f"--output-dir: {str(blocker)!r} is a file, not a folder" in captured.err
    assert "tiny-flux-shapes" not in captured.out  # nothing ran
    assert blocker.read_text() == "mine"


def test_a_second_demo_replaces_the_first_and_says_so(tmp_path, capsys):
    argv = ["demo", "--height", "32", "--width", "32", "--steps", "1", "--output-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "replaced" not in capsys.readouterr().out
    assert main(argv) == 0
    assert "replaced the previous run's 4 files" in capsys.readouterr().out


def _subcommands():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices


def test_every_option_says_its_default():
    missing = []
    for name, sub in _subcommands().items():
        for action in sub._actions:
            if not action.option_strings or action.required or isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
                continue  # a flag: off unless given
            if "default" not in (action.help or ""):
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_demo_help_shows_the_default_values(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = _subcommands()["demo"].format_help()
    assert text.count("default: tiny-flux-shapes's") == 4  # prompt, height, width, steps: the preset's
    for expected in ("default: 0", "default: na_accel_outputs", "default: flux_gna"):
        assert expected in text, expected


def _run_into_a_closed_pipe(args):
    """The command's stdout is a pipe whose reader is gone (like `| head -n 1` after its line)."""
    process = subprocess.Popen([sys.executable, "-m", "na_accel.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # before the command writes anything (its imports take far longer)
    err = process.stderr.read().decode()
    process.wait()
    return process.returncode, err


def test_a_closed_pipe_ends_quietly():
    code, err = _run_into_a_closed_pipe(["estimate", "--recipe", "flux_gna"])
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""
    assert code == 1


def test_piping_into_head_prints_the_first_line_only():
    result = subprocess.run(f"{sys.executable} -m na_accel.cli estimate --recipe flux_gna | head -n 1",
                            shell=True, capture_output=True, text=True)
    assert result.stdout.count("\n") == 1 and "Traceback" not in result.stderr


def console_script() -> tuple[str, str]:
    """pyproject.toml's ``na-accel = "module:function"``, as pip reads it to write the launcher."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["na-accel"]
    match = re.fullmatch(r"([\w.]+):(\w+)", target)
    assert match, f"[project.scripts] na-accel = {target!r} is not 'module:function'"
    return match.group(1), match.group(2)


def test_the_console_script_is_na_accel_cli_main_and_its_package_is_installed():
    module, function = console_script()
    assert getattr(importlib.import_module(module), function) is sys.modules["na_accel.cli.main"].main
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert module in packages


@pytest.mark.parametrize("argv,expected", [
    (["--help"], ["usage: na-accel", *(command.NAME for command in SUBCOMMANDS)]),
    (["recipes"], ["flux_gna: model flux"]),
])
def test_the_console_script_runs_as_pips_launcher_runs_it(argv, expected):
    module, function = console_script()
    launcher = f"import sys; from {module} import {function}; sys.exit({function}())"  # what pip writes
    result = subprocess.run([sys.executable, "-c", launcher, *argv], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert [text for text in expected if text not in result.stdout] == []


def test_every_subcommand_is_registered_from_the_one_list_in_order():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subparsers.choices) == [command.NAME for command in SUBCOMMANDS]
    assert [command.NAME for command in SUBCOMMANDS] == ["demo", "recipes", "models", "bench", "compare", "estimate",
                                                    "calibrate", "tune"]


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=lambda command: command.NAME)
def test_a_subcommand_module_adds_its_own_parser(command):
    subparsers = argparse.ArgumentParser().add_subparsers(dest="command")
    parser = command.add_parser(subparsers)
    assert isinstance(parser, argparse.ArgumentParser) and subparsers.choices == {command.NAME: parser}
    assert callable(command.run)


def test_main_runs_the_named_subcommand_with_the_parsed_arguments(monkeypatch):
    recipes = next(command for command in SUBCOMMANDS if command.NAME == "recipes")
    seen = []
    monkeypatch.setattr(recipes, "run", lambda args: seen.append(args.command) or 7)
    assert main(["recipes"]) == 7
    assert seen == ["recipes"]


def test_an_na_accel_error_becomes_exit_code_2_and_one_line_on_stderr(monkeypatch, capsys):
    models = next(command for command in SUBCOMMANDS if command.NAME == "models")

    def fail(args):
        raise ArgumentError("--model: 'x' is not known")

    monkeypatch.setattr(models, "run", fail)
    assert main(["models"]) == 2
    assert capsys.readouterr().err == "na-accel: error: --model: 'x' is not known\n"


class _Planned(Exception):
    """Raised where the demo would start generating: its plan is printed by then."""


def test_the_demo_takes_the_shapes_presets_one_default_prompt_size_and_steps(tmp_path, capsys, monkeypatch):
    import na_accel.commands.compare as compare
    from na_accel.tiny import tiny_flux_shapes_call
    from na_accel.models.zoo import MODELS

    call = tiny_flux_shapes_call
    preset = MODELS["tiny-flux-shapes"].build_preset(0)  # what bench and compare run by default
    assert (preset.default_height, preset.default_width, preset.default_steps) == (call.height, call.width, call.steps)
    seen = {}

    def planned(model, recipe, settings, prompts, backend):
        seen.update(settings=settings, prompts=prompts)
        raise _Planned

    monkeypatch.setattr(compare, "generate_comparison", planned)  # the run itself: test_demo_runs_...
    with pytest.raises(_Planned):
        main(["demo", "--output-dir", str(tmp_path)])
    settings = seen["settings"]
    assert (settings.height, settings.width, settings.steps, seen["prompts"]) == (
        call.height, call.width, call.steps, [call.prompt])
    header = capsys.readouterr().out.splitlines()[1]
    grid = f"{call.height // 4}x{call.width // 4}"
    assert header.startswith(f"prompt {call.prompt!r}, {call.height}x{call.width} pixels -> token grid {grid}, "
                             f"{call.steps} steps")


def test_models_lists_every_model_in_aligned_columns(capsys):
    from na_accel.models.zoo import MODELS

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    rows = out.splitlines()[1:1 + len(MODELS)]
    assert [row.split()[0] for row in rows] == list(MODELS)
    for spec, row in zip(MODELS.values(), rows):
        description = row.index(spec.description)  # every description starts in the same column
        assert description == rows[0].index(next(iter(MODELS.values())).description), row
        assert row[:description].rstrip().endswith(("offline", "--random-weights"))
