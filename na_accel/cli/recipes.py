"""``na-accel recipes``: the shipped recipes, each with its model family and description."""

from __future__ import annotations

import argparse

NAME = "recipes"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return subparsers.add_parser(NAME, help="list the shipped recipes")


def run(args: argparse.Namespace) -> int:
    from ..recipe.parse import load_recipe
    from ..recipe.sources import list_recipes

    for name in list_recipes():
        recipe = load_recipe(name)
        print(f"{name}: model {recipe.model} — {recipe.metadata.get('description', '')}")
    return 0
