"""Which recipe a string or path names: a bare name is a shipped recipe, anything else is a file.

The rule never looks at the working directory: a ``str`` with no path separator and no recipe
suffix (``.yaml``, ``.yml``, ``.json``) names a shipped recipe (``"flux_gna"``); a ``str`` with
either, or a ``pathlib.Path``, is a path (``"./flux_gna"``, ``"mine.yaml"``). So a file named like
a shipped recipe never replaces it. Where a bare name is not shipped but a file of that name
exists here, the error says so ("did you mean './mine.yaml'?"). Every loaded recipe records where
it came from (``Recipe.source``; ``describe`` shows it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import RecipeError, close_name
from .files import parse_recipe_bytes, read_recipe_file

RECIPE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
RULE = ("a name without a path separator or a .yaml/.yml/.json suffix is a shipped recipe; "
        "anything else is a path")


@dataclass(frozen=True)
class RecipeText:
    """A recipe file's parsed data, the name it gives the recipe and where it came from."""

    data: Any
    name: str  # a shipped recipe's name; a file's own ``name`` key, else its stem
    source: str  # "shipped recipe 'flux_gna' (<path>)" or "file '<absolute path>'"


def is_path(reference: str) -> bool:
    """True when ``reference`` is a path, False when it names a shipped recipe (see the module docstring)."""
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    return any(sep in reference for sep in separators) or reference.lower().endswith(RECIPE_FILE_SUFFIXES)


def read_recipe_reference(reference: "str | os.PathLike[str]", field: str = "recipe") -> RecipeText:
    """Read the shipped recipe or the recipe file ``reference`` names.

    ``field`` is how the user gave it, for the errors' suggestions: ``"recipe"`` (a Python argument:
    ``recipe="flux_gna"``) or a command-line flag such as ``"--recipe"`` (``--recipe flux_gna``).
    """
    if isinstance(reference, str) and not is_path(reference):
        return _read_shipped(reference, field)
    path = Path(reference)
    source = f"file '{path.absolute()}'"
    data = read_recipe_file(path, source, _missing_file_hint(path, field))
    return RecipeText(data, _file_recipe_name(data, path), source)


def suggest(field: str, value: str) -> str:
    """How to give ``value`` for ``field`` in the caller's terms: ``--recipe flux_gna`` on the command
    line (``field`` is a flag), ``recipe="flux_gna"`` in Python."""
    return f"{field} {value}" if field.startswith("-") else f'{field}="{value}"'

def _file_recipe_name(data: Any, path: Path) -> Any:
    """A recipe file's name: its own ``name`` key where it has one (``tune`` writes ``name:
    flux_gna_tuned`` into ``flux_tuned.yaml``), else the file's stem. A ``name`` that is not a string
    is passed on for ``checks`` to refuse (naming the field and the value)."""
    own = data.get("name") if isinstance(data, dict) else None
    if own is None or (isinstance(own, str) and not own.strip()):
        return path.stem
    return own


def list_recipes() -> list[str]:
    """Names of the recipes shipped with na_accel (usable as ``recipe="<name>"``)."""
    return sorted(_stem(path.name) for path in shipped_recipe_files())


def shipped_recipe_files() -> list[Any]:
    checkout = Path(__file__).resolve().parents[2]  # na_accel/recipe/sources.py -> the checkout
    if (checkout / "pyproject.toml").is_file() and (checkout / "recipes" / "__init__.py").is_file():
        # A source checkout: its own recipes, even when an editable install maps
        # na_accel.recipes to another checkout (git worktrees).
        return [p for p in (checkout / "recipes").iterdir() if p.name.endswith(RECIPE_FILE_SUFFIXES)]
    try:  # installed: recipes/ ships as the na_accel.recipes package
        folder = resources.files("na_accel.recipes")
    except ModuleNotFoundError:  # running from a checkout without installing
        folder = checkout / "recipes"
    return [p for p in folder.iterdir() if p.name.endswith(RECIPE_FILE_SUFFIXES)]


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0]


def _read_shipped(name: str, field: str = "recipe") -> RecipeText:
    for path in shipped_recipe_files():
        if _stem(path.name) == name:
            source = f"shipped recipe '{name}' ({path})"
            if isinstance(path, Path):
                data = read_recipe_file(path, source)
            else:  # inside an installed package that is not a folder (a zip); shipped files are small
                data = parse_recipe_bytes(path.read_bytes(), source, path.name.endswith(".json"))
            return RecipeText(data, name, source)
    local = [f"./{candidate}" for candidate in (name, *(name + s for s in RECIPE_FILE_SUFFIXES))
             if name and Path(candidate).is_file()]
    close = close_name(name, list_recipes())
    if local:  # a file of that name is here: the user meant the file
        hint = f"; did you mean {local[0]!r}?"
    elif close:
        hint = f"; did you mean {close!r}?"
    else:
        hint = f"; to load a file, pass its path (e.g. './{name}.yaml')"
    raise RecipeError(
        f"{field}: unknown shipped recipe {name!r}; shipped recipes are {list_recipes()} ({RULE}){hint}"
    )


def _missing_file_hint(path: Path, field: str = "recipe") -> str:
    stem = close_name(_stem(path.name), list_recipes()) if path.parent == Path(".") else None
    if stem is not None and stem.casefold() == _stem(path.name).casefold():
        return f" ({RULE}); for the shipped recipe, pass {suggest(field, stem)}"
    return ""
