"""``na-accel models``: the model names bench and compare accept (``models.model_list.MODELS``)."""

from __future__ import annotations

import argparse

NAME = "models"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return subparsers.add_parser(NAME, help="list the model names bench and compare accept")


def run(args: argparse.Namespace) -> int:
    from ..models.model_list import MODELS

    rows = [("name", "family", "kind", "usage", "description")]
    for spec in MODELS.values():
        usage = "--random-weights" if spec.config_file else "offline"
        rows.append((spec.name, spec.family, spec.kind, usage, spec.description))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]  # columns as wide as their text
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    print("or a local diffusers pipeline folder / hub id (loaded with from_pretrained)")
    return 0
