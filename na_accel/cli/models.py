"""``na-accel models``: the model names bench and compare accept (``tools.zoo.MODELS``)."""

from __future__ import annotations

import argparse

NAME = "models"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return subparsers.add_parser(NAME, help="list the model names bench and compare accept")


def run(args: argparse.Namespace) -> int:
    from ..tools.zoo import MODELS

    print(f"{'name':20} {'family':14} {'kind':22} {'usage':17} description")
    for spec in MODELS.values():
        usage = "--random-weights" if spec.config_file else "offline"
        status = f" (not available: {spec.unavailable})" if spec.unavailable else ""
        print(f"{spec.name:20} {spec.family:14} {spec.kind:22} {usage:17} {spec.description}{status}")
    print("or a local diffusers pipeline folder / hub id (loaded with from_pretrained)")
    return 0
