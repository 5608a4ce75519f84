"""What `pip install .` installs (pyproject.toml): every module and data file of the package, from
outside the clone too — not only what an editable install happens to see in the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "na_accel", "recipes")


def _package_files() -> set[str]:
    """Every file the package is made of, by its installed path (recipes/ installs as na_accel/recipes/)."""
    files = set()
    for folder, installed in (("na_accel", "na_accel"), ("recipes", "na_accel/recipes")):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(f"{installed}/{path.relative_to(ROOT / folder).as_posix()}")
    return files


def test_the_wheel_holds_every_module_and_data_file(tmp_path):
    source = tmp_path / "source"  # a copy: the build leaves nothing in the checkout
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir() else {}))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "wheel").glob("na_accel-*.whl")
    installed = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("na_accel/")}
    expected = _package_files()
    assert not expected - installed, f"missing from the wheel: {sorted(expected - installed)}"
    assert "na_accel/inputs/prompts.txt" in installed and "na_accel/speed/profiles/h100.json" in installed
