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


# --- a system Python that refuses pip installs (PEP 668: Debian, Ubuntu) ----------------------

FAKE_SYSTEM_PYTHON = """#!/usr/bin/env bash
if [ "$1" = "-c" ]; then
    case "$2" in *EXTERNALLY-MANAGED*) exit 0 ;; esac  # the PEP 668 marker is there
    exit 1  # nothing is installed
fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    echo "VENV-CREATED $3"
    mkdir -p "$3/bin" && cp "$FAKE_VENV_PYTHON" "$3/bin/python"
    exit 0
fi
echo "SYSTEM-PYTHON-CALL $*"
exit 1
"""

FAKE_VENV_PYTHON = FAKE_PYTHON.replace('echo "PIP-CALL $*"', 'echo "PIP-CALL $0 $*"')


def run_scripts_with_a_system_python(tmp_path: Path, script: str) -> list[str]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True, exist_ok=True)
    for source in SCRIPT.parent.iterdir():
        (repo / "scripts" / source.name).write_text(source.read_text())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python3").write_text(FAKE_SYSTEM_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    (tmp_path / "venv_python").write_text(FAKE_VENV_PYTHON)
    (tmp_path / "venv_python").chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHON", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_VENV_PYTHON=str(tmp_path / "venv_python"),
               FAKE_INSTALLED="0")
    result = subprocess.run(["bash", str(repo / "scripts" / script)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return (result.stdout + result.stderr).splitlines()


def test_an_externally_managed_python_gets_a_project_venv_once(tmp_path):
    lines = run_scripts_with_a_system_python(tmp_path, "install.sh")
    venv_python = str(tmp_path / "repo" / ".venv" / "bin" / "python")
    assert any(line.startswith("VENV-CREATED") for line in lines)
    assert any("creating a project-local virtualenv in .venv" in line for line in lines)
    calls = pip_calls(lines)
    assert len(calls) == 4 and all(call.split()[1] == venv_python for call in calls)  # nothing into the system
    assert not [line for line in lines if line.startswith("SYSTEM-PYTHON-CALL")]

    again = run_scripts_with_a_system_python(tmp_path, "install.sh")
    assert not any(line.startswith("VENV-CREATED") for line in again)  # made once, then used
    assert any("using the virtualenv in .venv" in line for line in again)
    assert all(call.split()[1] == venv_python for call in pip_calls(again))


def test_the_test_command_runs_pytest_in_that_venv(tmp_path):
    lines = run_scripts_with_a_system_python(tmp_path, "test.sh")
    assert not [line for line in lines if line.startswith("SYSTEM-PYTHON-CALL")]  # pytest ran in .venv too
