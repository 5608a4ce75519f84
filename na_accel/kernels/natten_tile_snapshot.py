"""NATTEN's forward tile tables, snapshotted for the NATTEN release na_accel pins.

``tiles.natten_pairs`` reads the tables from NATTEN's config modules, which import torch (about a
second). ``estimate`` needs only the tables, so for that one release they are also stored here, in
``natten_tiles.json``, and used when the installed NATTEN is that release (its version is read
from the package metadata, without importing it). Any other NATTEN, or a key the snapshot lacks
(an unsupported head_dim: NATTEN's own error), goes to NATTEN itself.

This module only reads the snapshot. ``scripts/snapshot_natten_tiles.py`` writes it from the
installed NATTEN (through ``tiles.natten_pairs``); a test compares the two, and after a NATTEN
upgrade the snapshot is rewritten with

    python scripts/snapshot_natten_tiles.py
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("natten_tiles.json")
# The backends whose tables the snapshot holds (na_accel's own triton tables are in triton_tiles).
NATTEN_BACKENDS_WITH_TILES = ("hopper-fna", "blackwell-fna", "cutlass-fna", "flex-fna")


def snapshot_key(backend: str, rank: int, head_dim: int, dtype_bits: int) -> str:
    """Only hopper-fna's tables depend on head_dim and dtype."""
    return f"{backend}/{rank}/{dtype_bits}/{head_dim}" if backend == "hopper-fna" else f"{backend}/{rank}"


def installed_natten() -> str | None:
    try:
        return metadata.version("natten")
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def _snapshot() -> dict:
    data = json.loads(SNAPSHOT.read_text())
    return data["tables"] if data["natten"] == installed_natten() else {}


def snapshot_pairs(backend: str, rank: int, head_dim: int, dtype_bits: int) -> tuple[list, str] | None:
    """``tiles.natten_pairs``'s answer from the snapshot, or None (ask NATTEN)."""
    entry = _snapshot().get(snapshot_key(backend, rank, head_dim, dtype_bits))
    return None if entry is None else ([tuple(map(tuple, pair)) for pair in entry["pairs"]], entry["where"])
