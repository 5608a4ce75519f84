"""NATTEN's forward tile tables, snapshotted for the NATTEN release na_accel pins.

``tiles.natten_pairs`` reads the tables from NATTEN's config modules, which import torch (about a
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

SNAPSHOT = Path(__file__).with_name("natten_tiles.json")
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


def live_tables() -> dict:
    """Every table ``natten_pairs`` reads, from the installed NATTEN (imports torch)."""
    from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS

    from .tiles import natten_pairs

    tables = {}
    for backend in NATTEN_BACKENDS_WITH_TILES:
        for rank in (1, 2, 3):
            keys = ([(h, b) for b, by_head in HOPPER_FORWARD_CONFIGS[rank].items() for h in by_head]
                    if backend == "hopper-fna" else [(128, 16)])
            for head_dim, bits in keys:
                pairs, where = natten_pairs(backend, rank, head_dim, bits)
                tables[snapshot_key(backend, rank, head_dim, bits)] = {
                    "pairs": [[list(q), list(kv)] for q, kv in pairs], "where": where}
    return tables


def write_snapshot(path: Path = SNAPSHOT) -> Path:
    """The snapshot file: one table per line (a NATTEN upgrade reads as a short diff)."""
    rows = ",\n".join(f"  {json.dumps(key)}: {json.dumps(table)}" for key, table in live_tables().items())
    path.write_text(f'{{"natten": {json.dumps(installed_natten())}, "tables": {{\n{rows}\n}}}}\n')
    return path


if __name__ == "__main__":
    print(f"wrote {write_snapshot()} (natten {installed_natten()})")
