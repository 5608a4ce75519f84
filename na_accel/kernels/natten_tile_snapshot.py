"""NATTEN's forward tile tables, snapshotted for the NATTEN release na_accel pins.

``natten_tiles`` reads the tables from NATTEN's config modules, which import torch (about a
second). ``estimate`` needs only the tables, so for that one release they are also stored here, in
``natten_tiles.json``, and used when the installed NATTEN is that release (its version is read
from the package metadata, without importing it). Any other NATTEN, or a key the snapshot lacks
(an unsupported head_dim: NATTEN's own error), goes to NATTEN itself.

A test compares the snapshot with NATTEN's live tables; after a NATTEN upgrade, rewrite it with

    python -m na_accel.kernels.natten_tile_snapshot
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .natten_tiles import NATTEN_TILE_MODELS

SNAPSHOT = Path(__file__).with_name("natten_tiles.json")
_MODELS = {model.name: model for model in NATTEN_TILE_MODELS}
NATTEN_BACKENDS_WITH_TILES = tuple(_MODELS)


def snapshot_key(backend: str, rank: int, head_dim: int, dtype_bits: int) -> str:
    """A table's key: the backend's model says which of rank, head_dim and dtype its tables depend on."""
    return _MODELS[backend].snapshot_key(rank, head_dim, dtype_bits)


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


def snapshot_pairs(backend: str, rank: int, head_dim: int, dtype_bits: int) -> tuple[list, str] | None:
    """``NattenTiles.natten_table``'s answer from the snapshot, or None (ask NATTEN)."""
    return stored_table(snapshot_key(backend, rank, head_dim, dtype_bits))


def live_tables() -> dict:
    """Every table the NATTEN tile models read, from the installed NATTEN (imports torch)."""
    tables = {}
    for model in NATTEN_TILE_MODELS:
        for rank in (1, 2, 3):
            for head_dim, bits in model.table_keys(rank):
                pairs, where = model.natten_table(rank, head_dim, bits)
                tables[model.snapshot_key(rank, head_dim, bits)] = {
                    "pairs": [[list(q), list(kv)] for q, kv in pairs], "where": where}
    return tables


def write_snapshot(path: Path = SNAPSHOT) -> Path:
    """The snapshot file: one table per line (a NATTEN upgrade reads as a short diff)."""
    rows = ",\n".join(f"  {json.dumps(key)}: {json.dumps(table)}" for key, table in live_tables().items())
    path.write_text(f'{{"natten": {json.dumps(installed_natten())}, "tables": {{\n{rows}\n}}}}\n')
    return path


if __name__ == "__main__":
    print(f"wrote {write_snapshot()} (natten {installed_natten()})")
