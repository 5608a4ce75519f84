"""scripts/install.sh says what it installs before each slow step and lets pip show its progress.

A stand-in Python records every call: ``-c "import X..."`` fails (nothing installed) or succeeds
(everything installed), ``-m pip ...`` prints a marker line and succeeds.
"""

import os
import subprocess
import sys
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


# --- which interpreter the scripts install into (scripts/python_env.sh) -------------------------

# python3 on PATH: FAKE_CHOSEN=1 plays an active virtualenv / conda environment; pip calls are
# recorded with the interpreter that got them ($0), imports fail (nothing installed).
FAKE_PYTHON3 = """#!/usr/bin/env bash
if [ "$1" = "-c" ]; then
    case "$2" in
        *base_prefix*) [ "$FAKE_CHOSEN" = 1 ] && exit 0; exit 1 ;;
        *sys.executable*) echo "$0"; exit 0 ;;
        *sys.prefix*) echo "/fake/prefix"; exit 0 ;;
    esac
    exit 1  # nothing is installed
fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    echo "VENV-CREATED $*"
    mkdir -p "${@: -1}/bin" && cp "$FAKE_VENV_PYTHON" "${@: -1}/bin/python"
    exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "PIP-CALL $0 $*"
    exit 0
fi
echo "PYTHON3-CALL $*"
exit 0
"""

FAKE_VENV_PYTHON = FAKE_PYTHON.replace('echo "PIP-CALL $*"', 'echo "PIP-CALL $0 $*"')
SAID = "==> installing into and running with"


def copy_scripts(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True, exist_ok=True)
    for source in SCRIPT.parent.iterdir():
        (repo / "scripts" / source.name).write_text(source.read_text())
    return repo


def run_scripts_with(tmp_path: Path, script: str, chosen: bool = False, **extra_env: str) -> list[str]:
    repo = copy_scripts(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    (bin_dir / "python3").chmod(0o755)
    (tmp_path / "venv_python").write_text(FAKE_VENV_PYTHON)
    (tmp_path / "venv_python").chmod(0o755)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHON", "VIRTUAL_ENV", "CONDA_PREFIX", "NA_ACCEL_PYTHON_SAID")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_VENV_PYTHON=str(tmp_path / "venv_python"),
               FAKE_INSTALLED="0", FAKE_CHOSEN="1" if chosen else "0", **extra_env)
    result = subprocess.run(["bash", str(repo / "scripts" / script)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return (result.stdout + result.stderr).splitlines()


def test_without_a_virtualenv_or_PYTHON_a_project_venv_over_the_base_is_made_once(tmp_path):
    lines = run_scripts_with(tmp_path, "install.sh")
    venv_python = str(tmp_path / "repo" / ".venv" / "bin" / "python")
    (created,) = [line for line in lines if line.startswith("VENV-CREATED")]
    assert "--system-site-packages" in created.split()  # an installed torch / NATTEN / Triton are reused
    assert any("creating a project-local virtualenv in .venv" in line for line in lines)
    calls = pip_calls(lines)
    assert len(calls) == 4 and all(call.split()[1] == venv_python for call in calls)  # nothing into the base
    assert [line for line in lines if line.startswith(SAID)] == [
        f"{SAID} the virtualenv in .venv (to use it yourself: source .venv/bin/activate; "
        "to use another interpreter: PYTHON=/path/to/python bash scripts/...)"]

    again = run_scripts_with(tmp_path, "install.sh")
    assert not any(line.startswith("VENV-CREATED") for line in again)  # made once, then used
    assert any(line.startswith(f"{SAID} the virtualenv in .venv") for line in again)
    assert all(call.split()[1] == venv_python for call in pip_calls(again))


def test_the_test_command_runs_pytest_in_that_venv_and_says_so_once(tmp_path):
    lines = run_scripts_with(tmp_path, "test.sh")
    assert not [line for line in lines if line.startswith(("PYTHON3-CALL", f"PIP-CALL {tmp_path / 'bin'}"))]
    assert len([line for line in lines if line.startswith(SAID)]) == 1  # test.sh, then install.sh: one line


def test_an_active_virtualenv_is_installed_into_and_named(tmp_path):
    lines = run_scripts_with(tmp_path, "install.sh", chosen=True)
    python3 = str(tmp_path / "bin" / "python3")
    assert not (tmp_path / "repo" / ".venv").exists() and not any("VENV-CREATED" in line for line in lines)
    calls = pip_calls(lines)
    assert len(calls) == 4 and all(call.split()[1] == python3 for call in calls)
    assert [line for line in lines if line.startswith(SAID)] == [
        f"{SAID} {python3} (the active environment, /fake/prefix)"]


def test_PYTHON_set_is_installed_into_and_named(tmp_path):
    python = tmp_path / "chosen_python"
    python.write_text(FAKE_VENV_PYTHON)
    python.chmod(0o755)
    lines = run_scripts_with(tmp_path, "install.sh", PYTHON=str(python))
    assert not (tmp_path / "repo" / ".venv").exists() and not any("VENV-CREATED" in line for line in lines)
    calls = pip_calls(lines)
    assert len(calls) == 4 and all(call.split()[1] == str(python) for call in calls)
    assert [line for line in lines if line.startswith(SAID)] == [f"{SAID} {python} (PYTHON is set)"]


# The decision itself, with real interpreters: a virtualenv's python, a conda-like prefix, a base one.
def decided_python(tmp_path: Path, python3: Path | None, path_first: Path | None = None, **extra_env: str) -> str:
    repo = copy_scripts(tmp_path)
    (repo / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    (repo / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")  # present: not created again
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    bin_dir = path_first or tmp_path / "bin"  # python3 there: a symlink to python3, or a virtualenv's own
    if python3 is not None:
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "python3").unlink(missing_ok=True)
        (bin_dir / "python3").symlink_to(python3)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHON", "VIRTUAL_ENV", "CONDA_PREFIX", "NA_ACCEL_PYTHON_SAID")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", **extra_env)
    result = subprocess.run(["bash", "-c", 'source scripts/python_env.sh >/dev/null; echo "$PYTHON"'], cwd=repo,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def base_python() -> Path:
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        path = Path(sys.base_prefix) / "bin" / name
        if path.exists():
            return path
    pytest.skip("no base interpreter found under sys.base_prefix")


def test_a_base_interpreter_gets_the_project_venv(tmp_path):
    assert decided_python(tmp_path, base_python()) == str(tmp_path / "repo" / ".venv" / "bin" / "python")


def test_a_conda_environment_is_kept(tmp_path):
    decided = decided_python(tmp_path, base_python(), CONDA_PREFIX=sys.base_prefix)
    assert Path(decided).resolve() == base_python().resolve() or Path(decided).parent == Path(sys.base_prefix) / "bin"


def test_a_virtualenv_python_is_kept(tmp_path):
    subprocess.run([str(base_python()), "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True, timeout=60)
    decided = decided_python(tmp_path, None, path_first=tmp_path / "env" / "bin")  # as `source env/bin/activate`
    assert Path(decided).parent == tmp_path / "env" / "bin"
