"""Output paths checked before a run, so a bad ``--json`` or ``--output-dir`` costs nothing: a folder
where a file goes, a file in the way of a folder, or a place that can't be written is refused with
the option and the path named, before any model is built. Nothing is created here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import ArgumentError


def check_output_file(option: str, path: str | Path) -> Path:
    """``path`` can be written as a file: not a folder, and its folder exists or can be created."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ArgumentError(f"{option}: {str(path)!r} is a folder; give a file path, e.g. {str(path / 'result.json')!r}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ArgumentError(f"{option}: cannot write {str(path)!r}: the file is read-only; give another path")
    _check_folder(option, path.parent, path)
    return path


def check_output_dir(option: str, path: str | Path) -> Path:
    """``path`` is a folder that exists or can be created, and takes new files."""
    path = Path(path).expanduser()
    _check_folder(option, path, path)
    return path


def _check_folder(option: str, folder: Path, target: Path) -> None:
    existing = folder
    while not existing.exists() and not existing.is_symlink():  # the nearest existing ancestor
        existing = existing.parent
    if not existing.is_dir():
        raise ArgumentError(f"{option}: {str(existing)!r} is a file, not a folder, so {str(target)!r} can't be "
                            "written; give another path or move the file")
    try:  # the only reliable writability test (os.access says yes to root on read-only places)
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".na-accel-probe-")
    except OSError as exc:
        raise ArgumentError(f"{option}: cannot write {str(target)!r}: {str(existing)!r} does not take new files "
                            f"({exc.strerror}); give a writable path") from None
    os.close(handle)
    os.unlink(probe)


__all__ = ["check_output_dir", "check_output_file"]
