"""The na-accel command line: the demo runs end to end and bad arguments fail clearly."""

import argparse
import subprocess
import sys

import pytest
from PIL import Image

from na_accel.cli import build_parser, main


def test_demo_runs_and_writes_a_side_by_side(tmp_path, capsys):
    code = main(["demo", "--height", "128", "--width", "160", "--steps", "2", "--output-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "token grid 8x10" in out
    assert "ran: 1 sparse, 1 dense (dense step (step < dense_steps=1))" in out
    reference_diff = float(out.split("GNA vs reference (explicit mask): max |diff| ")[1].split()[0])
    assert reference_diff <= 1e-5
    with Image.open(tmp_path / "demo.png") as image:
        assert image.size == (3 * 160, 128)


def test_demo_with_a_shipped_recipe(tmp_path, capsys):
    assert main(["demo", "--recipe", "flux_gna", "--height", "64", "--width", "64", "--steps", "1",
                 "--output-dir", str(tmp_path)]) == 0
    assert "clamped to grid on axes [0, 1]" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["demo", "--height", "40"], "--height: 40 is not valid for tiny-flux; allowed: a multiple of 16 pixels >= 16"),
    (["demo", "--steps", "0"], "--steps: 0 is not valid; allowed: an integer >= 1"),
    (["demo", "--recipe", "nope"], "unknown shipped recipe 'nope'"),
    (["demo", "--backend", "cudnn"], "unknown backend 'cudnn'"),
])
def test_bad_arguments_exit_non_zero_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_recipes_lists_shipped_recipes(capsys):
    assert main(["recipes"]) == 0
    assert "flux_gna: model flux" in capsys.readouterr().out


def test_console_entry_point_is_installed():
    result = subprocess.run([sys.executable, "-m", "na_accel.cli", "recipes"], capture_output=True, text=True)
    assert result.returncode == 0 and "flux_gna" in result.stdout


def test_demo_checks_its_output_dir_before_running(tmp_path, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("mine")
    assert main(["demo", "--steps", "1", "--output-dir", str(blocker)]) == 2
    captured = capsys.readouterr()
    assert f"--output-dir: {str(blocker)!r} is a file, not a folder" in captured.err
    assert "Tiny FLUX pipeline" not in captured.out  # nothing ran
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
    for expected in ("default: 256", "default: 320", "default: 4", "default: 0", "default: na_accel_outputs"):
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
