"""An output folder one run owns: ``demo`` and ``compare`` replace the previous run there instead of
mixing with it.

Each run records the files it writes in ``<folder>/.na-accel-run.json``, with their sizes. The next
run in the same folder first removes those files (and the folders that leaves empty), so no stale
``report.html`` or ``prompt_NNN/`` sits next to new outputs. Files na-accel did not write there are
never touched: a recorded name is removed only if it is one of the names na-accel writes
(``OUTPUT_NAME``: dense.png, prompt_000/side_by_side.gif, metrics.json, ...) and the file still has
the size recorded, so a record edited to list a user's file (``user.txt``, or a user's own
``dense.png``) removes nothing of theirs; neither is anything outside the folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Iterable

MANIFEST = ".na-accel-run.json"
# Every name demo and compare write inside their folder (outputs.report.write_outputs, write_compare,
# the demo), relative, with "/" between parts; nothing else is ever removed.
_PICTURE = r"(?:(?:dense|patched|side_by_side)\.(?:png|gif|mp4)|(?:dense|patched)_frames/frame_\d{4,}\.png)"
OUTPUT_NAME = re.compile(rf"(?:demo\.png|metrics\.json|report\.html|(?:prompt_\d{{3,}}/)?{_PICTURE})")


class RunFolder:
    """``clear_previous()`` once before writing, then ``record(paths)`` after each batch of writes."""

    def __init__(self, path: str | Path, command: str):
        self.path = Path(path)
        self.command = command
        self.sizes: dict[str, int] | None = None  # the recorded sizes (None: a record without them)
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
            target = self._inside(name) if OUTPUT_NAME.fullmatch(name) else None
            if target is not None and target.is_file() and not target.is_symlink() and self._same_size(name, target):
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
        self.files, self.sizes, self.cleared = [], {}, removed
        self._save()
        return removed

    def _same_size(self, name: str, target: Path) -> bool:
        """The file still has the size this tool recorded (records of older versions have no sizes)."""
        if self.sizes is None:
            return True
        return self.sizes.get(name) == target.stat().st_size

    def record(self, paths: Iterable[str | Path]) -> None:
        """Adds files this run wrote (paths inside the folder) to the record, and saves it."""
        if self.sizes is None:
            self.sizes = {}
        for path in paths:
            name = self._relative(Path(path))
            if name not in self.files:
                self.files.append(name)
            try:
                self.sizes[name] = (self.path / name).stat().st_size
            except OSError:
                self.sizes.pop(name, None)
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
            if self.manifest.stat().st_size > 16 * 2**20:  # no record of ours is that large
                return []
            data = json.loads(self.manifest.read_text())
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return []  # no record (a first run) or an unreadable one: nothing is removed
        sizes = data.get("sizes")
        if isinstance(sizes, dict):
            self.sizes = {k: v for k, v in sizes.items() if isinstance(k, str) and isinstance(v, int)}
        return [name for name in files if isinstance(name, str)] if isinstance(files, list) else []

    def _save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        record = {"command": self.command, "files": self.files, "sizes": self.sizes or {}}
        self.manifest.write_text(json.dumps(record, indent=1) + "\n")


__all__ = ["MANIFEST", "RunFolder"]
