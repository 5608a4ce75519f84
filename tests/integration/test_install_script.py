"""scripts/install.sh says what it installs before each slow step and lets pip show its progress.

A stand-in Python records every call: ``-c "import X..."`` fails (nothing installed) or succeeds
(everything installed), ``-m pip ...`` prints a marker line and succeeds.
"""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install.sh"
PINNED = ("torch==2.13.0", "natten==0.21.7", "triton==3.7.1")

FAKE_PYTHON = """#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "PIP-CALL $*"
    exit 0
fi
if [ "$1" = "-c" ]; then
    [ "$FAKE_INSTALLED" = 1 ] || exit 1
    echo "9.9.9"
    exit 0
fi
exit 0
"""


def run_install(tmp_path: Path, installed: bool) -> list[str]:
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    env = {**os.environ, "PYTHON": str(python), "FAKE_INSTALLED": "1" if installed else "0"}
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return (result.stdout + result.stderr).splitlines()


def pip_calls(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("PIP-CALL ")]


@pytest.mark.parametrize("spec", PINNED)
def test_a_fresh_install_announces_each_slow_step_and_shows_pip_progress(tmp_path, spec):
    lines = run_install(tmp_path, installed=False)
    (call,) = [line for line in pip_calls(lines) if spec in line.split()]
    assert "-q" not in call.split() and "--quiet" not in call.split()  # pip's own progress stays visible
    announced = [i for i, line in enumerate(lines) if spec in line and not line.startswith("PIP-CALL ")]
    assert announced and announced[0] < lines.index(call)  # said before the (slow) download starts


def test_the_package_install_is_announced(tmp_path):
    lines = run_install(tmp_path, installed=False)
    (call,) = [line for line in pip_calls(lines) if "-e" in line.split()]
    assert any("na_accel" in line for line in lines[: lines.index(call)] if not line.startswith("PIP-CALL "))


def test_what_is_installed_is_not_installed_again(tmp_path):
    lines = run_install(tmp_path, installed=True)
    calls = pip_calls(lines)
    assert not [call for call in calls for spec in PINNED if spec in call]
    for name in ("torch", "natten", "triton"):
        assert any(name in line and "already installed" in line for line in lines), name
