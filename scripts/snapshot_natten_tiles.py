#!/usr/bin/env python
"""Rewrite na_accel/kernels/natten_tiles.json from the installed NATTEN's own tile tables.

The package only reads the snapshot (``na_accel.kernels.natten_tile_snapshot``), so that
``estimate`` starts without torch; this tool builds it, through the NATTEN tile models (``na_accel.kernels.natten_tiles``)
(which imports NATTEN, and NATTEN torch). Run it after a NATTEN upgrade, from the repository root:

    python scripts/snapshot_natten_tiles.py            # rewrites na_accel/kernels/natten_tiles.json
    python scripts/snapshot_natten_tiles.py --output FILE

tests/kernels/test_tiles.py compares the shipped snapshot with ``live_tables()`` and fails, naming
this script, when they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's na_accel, and its snapshot file

from na_accel.kernels.natten_tile_snapshot import SNAPSHOT, installed_natten  # noqa: E402
from na_accel.kernels.natten_tiles import NATTEN_TILE_MODELS  # noqa: E402


def live_tables() -> dict:
    """Every table the NATTEN tile models read, from the installed NATTEN (imports torch), keyed as the snapshot."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=SNAPSHOT, help=f"where to write (default: {SNAPSHOT})")
    args = parser.parse_args(argv)
    print(f"wrote {write_snapshot(args.output)} (natten {installed_natten()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
