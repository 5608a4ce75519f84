"""An output folder one run owns: ``demo`` and ``compare`` replace the previous run there instead of
mixing with it.

Each run records the files it writes in ``<folder>/.na-accel-run.json``. The next run in the same
folder first removes exactly those files (and the folders that leaves empty), so no stale
``report.html`` or ``prompt_NNN/`` sits next to new outputs. Files na-accel did not write there are
never touched; neither is anything a tampered record points at outside the folder.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Iterable

MANIFEST = ".na-accel-run.json"


class RunFolder:
    """``clear_previous()`` once before writing, then ``record(paths)`` after each batch of writes."""

    def __init__(self, path: str | Path, command: str):
        self.path = Path(path)
        self.command = command
        self.files: list[str] = self._read()  # the last run's files, then this run's
        self.cleared: list[str] | None = None  # what clear_previous removed (None: not called yet)

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    def clear_previous(self) -> list[str]:
        """Removes the files the previous run recorded here; returns their names (once per run)."""
        if self.cleared is not None:
            return []
        removed = []
        for name in self.files:
            target = self._inside(name)
            if target is not None and (target.is_file() or target.is_symlink()):
                target.unlink()
                removed.append(name)
        for name in removed:  # folders the removal emptied (prompt_000/, dense_frames/, ...)
            for parent in PurePosixPath(name).parents:
                if parent == PurePosixPath("."):
                    break
                try:
                    (self.path / parent).rmdir()
                except OSError:  # not empty (someone's files), or already gone
                    break
        self.files, self.cleared = [], removed
        self._save()
        return removed

    def record(self, paths: Iterable[str | Path]) -> None:
        """Adds files this run wrote (paths inside the folder) to the record, and saves it."""
        for path in paths:
            name = self._relative(Path(path))
            if name not in self.files:
                self.files.append(name)
        self._save()

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.path).as_posix()
        except ValueError:
            return path.resolve().relative_to(self.path.resolve()).as_posix()

    def _inside(self, name: str) -> Path | None:
        """The recorded file, or None when the name could point outside the folder."""
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            return None
        target = self.path / relative
        root = self.path.resolve()
        parent = target.parent.resolve()  # a symlinked folder inside must not lead out
        return target if parent == root or root in parent.parents else None

    def _read(self) -> list[str]:
        try:
            data = json.loads(self.manifest.read_text())
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return []  # no record (a first run) or an unreadable one: nothing is removed
        return [name for name in files if isinstance(name, str)] if isinstance(files, list) else []

    def _save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.manifest.write_text(json.dumps({"command": self.command, "files": self.files}, indent=1) + "\n")


__all__ = ["MANIFEST", "RunFolder"]
