"""The na-accel command line: the demo runs end to end and bad arguments fail clearly."""

import subprocess
import sys

import pytest
from PIL import Image

from na_accel.cli import main


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
    (["demo", "--height", "40"], "--height: 40 is not a multiple of 16"),
    (["demo", "--steps", "0"], "--steps: 0 must be >= 1"),
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
