"""NATTEN's forward tile tables, snapshotted for the NATTEN release na_accel pins.

``natten_tiles`` reads the tables from NATTEN's config modules, which import torch (about a
second). ``estimate`` needs only the tables, so for that one release they are also stored here, in
``natten_tiles.json``, and used when the installed NATTEN is that release (its version is read
from the package metadata, without importing it). Any other NATTEN, or a key the snapshot lacks
(an unsupported head_dim: NATTEN's own error), goes to NATTEN itself.

This module only reads the snapshot. ``scripts/snapshot_natten_tiles.py`` writes it from the
installed NATTEN (through the tile models of ``natten_tiles``); a test compares the two, and after a NATTEN
upgrade the snapshot is rewritten with

    python scripts/snapshot_natten_tiles.py
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("natten_tiles.json")


def installed_natten() -> str | None:
    try:
        return metadata.version("natten")
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def _snapshot() -> dict:
    data = json.loads(SNAPSHOT.read_text())
    return data["tables"] if data["natten"] == installed_natten() else {}


def stored_table(key: str) -> tuple[list, str] | None:
    """The stored (pairs, where) under ``key`` (``NattenTiles.snapshot_key``), or None (ask NATTEN)."""
    entry = _snapshot().get(key)
    return None if entry is None else ([tuple(map(tuple, pair)) for pair in entry["pairs"]], entry["where"])
