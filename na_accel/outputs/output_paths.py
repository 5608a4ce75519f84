"""Output paths checked before a run, so a bad ``--json`` or ``--output-dir`` costs nothing: a folder
where a file goes, a file in the way of a folder, a name longer than the file system takes, or a
place that can't be written is refused with the option and the path named, before any model is
built (``check_output_names``: the fixed names a command writes inside its folder, too). Nothing is
created here.

What can't be checked before (a full disk, ``/dev/full``) fails at the write: ``write_output`` turns
the OSError into an ``OutputWriteError`` naming the option and the path, and the command prints its
result to stdout first, so the measurement is not lost.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from typing import Callable, Iterable, TypeVar

from ..errors import ArgumentError, NaAccelError

T = TypeVar("T")


class OutputWriteError(NaAccelError, OSError):
    """A command's output could not be written after the run (disk full, a device, ...); ``result``:
    the measurement, which the command line then prints to stdout as JSON so it is not lost."""

    def __init__(self, message: str, result: object = None):
        super().__init__(message)
        self.result = result


def check_output_file(option: str, path: str | Path) -> Path:
    """``path`` can be written as a file: not a folder, and its folder exists or can be created."""
    path = Path(path).expanduser()
    _check_name_lengths(option, path)
    if path.is_dir():
        raise ArgumentError(f"{option}: {str(path)!r} is a folder; give a file path, e.g. {str(path / 'result.json')!r}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ArgumentError(f"{option}: cannot write {str(path)!r}: the file is read-only; give another path")
    _check_folder(option, path.parent, path)
    return path


def check_output_dir(option: str, path: str | Path) -> Path:
    """``path`` is a folder that exists or can be created, and takes new files."""
    path = Path(path).expanduser()
    _check_name_lengths(option, path)
    _check_folder(option, path, path)
    return path


def check_output_names(option: str, folder: str | Path, names: Iterable[str]) -> None:
    """The files a command writes inside ``folder`` (relative names, e.g. ``metrics.json`` or
    ``prompt_000/dense.png``) are not taken by folders, nor their folders by files."""
    folder = Path(folder).expanduser()
    for name in names:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            raise ArgumentError(f"{option}: {str(target)!r} is a folder, but this command writes a file of that "
                                "name there; move the folder or give another --output-dir")
        for parent in list(Path(name).parents)[:-1]:  # prompt_000/ for prompt_000/dense.png
            if (folder / parent).exists() and not (folder / parent).is_dir():
                raise ArgumentError(f"{option}: {str(folder / parent)!r} is a file, but this command writes a folder "
                                    "of that name there; move the file or give another --output-dir")


def write_output(option: str, path: str | Path, write: Callable[[], T], result: object = None) -> T:
    """``write()``, with an OSError (a full disk, /dev/full, a folder made meanwhile) as an
    ``OutputWriteError`` naming ``option`` and the path (carrying ``result``, the measurement)."""
    try:
        return write()
    except OutputWriteError:
        raise
    except OSError as exc:
        where = exc.filename if exc.filename is not None else path
        raise OutputWriteError(f"{option}: could not write {str(where)!r}: {exc.strerror or exc}",
                               result=result) from None


def _check_name_lengths(option: str, path: Path) -> None:
    """Each component within the file system's name limit (else every check below is a raw ENAMETOOLONG)."""
    limit = _name_max(path)
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise ArgumentError(f"{option}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long; "
                                f"allowed: at most {limit} bytes per file or folder name (the file system's limit)")
    try:
        path.exists()
    except OSError as exc:  # the whole path over PATH_MAX, or another name problem
        raise ArgumentError(f"{option}: {str(path)[:80]!r}... can't be used: {exc.strerror}") from None


def _name_max(path: Path) -> int:
    existing = path.absolute()
    while True:
        try:
            if existing.exists():
                return os.pathconf(existing, "PC_NAME_MAX")
        except (OSError, ValueError):
            pass
        if existing.parent == existing:
            return 255
        existing = existing.parent


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


__all__ = ["OutputWriteError", "check_output_dir", "check_output_file", "check_output_names", "write_output"]
