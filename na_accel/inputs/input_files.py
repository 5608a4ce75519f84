"""Files a command reads (``--prompt-file``, ``--bench-json``): regular files only, at most
``MAX_INPUT_BYTES``, UTF-8 text; anything else is an ArgumentError naming the option, the file and
what is allowed, never a raw OSError / MemoryError / UnicodeDecodeError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ArgumentError

# 16 MiB: a bench JSON of 1000 repeats with per-step times is well under 1 MiB, and a prompt file of
# 16 MiB holds ~100,000 long prompts (each one a full generation); a device such as /dev/zero or a
# huge file is refused instead of read into memory.
MAX_INPUT_BYTES = 16 * 2**20


def read_input_text(option: str, path: str | Path, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``limit`` bytes)."""
    path = Path(path).expanduser()
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ArgumentError(f"{option}: cannot read {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
        raise ArgumentError(f"{option}: {str(path)!r} is {kind}; allowed: a regular file of at most "
                            f"{limit:,} bytes")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ArgumentError(f"{option}: cannot read {str(path)!r}: {exc.strerror}") from None
    if len(data) > limit:
        raise ArgumentError(f"{option}: {str(path)!r} is larger than {limit:,} bytes; allowed: a file of at most "
                            f"{limit:,} bytes (na_accel.inputs.input_files.MAX_INPUT_BYTES)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArgumentError(f"{option}: {str(path)!r} is not UTF-8 text: byte {exc.start} "
                            f"(0x{data[exc.start]:02x}) is not valid UTF-8; save the file as UTF-8") from None


__all__ = ["MAX_INPUT_BYTES", "read_input_text"]
