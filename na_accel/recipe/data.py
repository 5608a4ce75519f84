"""Limits on the data a recipe is made of, whatever it came from (a file, a dict built in Python).

A recipe is a small tree of plain data: mappings with string keys, lists, strings, numbers,
booleans and nulls. ``check_plain_data`` walks it once, before anything else reads it, and raises
a ``RecipeError`` naming where (``recipe.metadata.a[3]``) and what is wrong, for data that would
otherwise exhaust memory, overflow, or recurse without end further down: cycles, nesting deeper
than ``MAX_DEPTH``, more than ``MAX_VALUES`` values (shared sub-lists that expand), integers
outside ±``MAX_INT``, strings longer than ``MAX_STRING_CHARS``, keys that are not strings, and
objects that are not plain data. The limits are far above anything a real recipe needs (the
shipped ones have < 100 values, nested 4 deep, with integers below 1000).
"""

from __future__ import annotations

import datetime
import re
import reprlib
from typing import Any, Mapping

from ..errors import RecipeError

MAX_DEPTH = 32  # nesting levels; the top-level mapping is level 1 (real recipes: 5)
MAX_VALUES = 100_000  # values in the whole tree, counting every visit of a shared list or dict
MAX_INT = 2**63 - 1  # integers must lie within [-MAX_INT, MAX_INT]
MAX_STRING_CHARS = 65_536  # characters in one string or key
# YAML dates (``date: 2025-01-01``) are plain data too; they are kept as ISO strings.
SCALARS = (str, bool, int, float, type(None), datetime.date)


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a readable size (long strings, lists and mappings are elided with ...)."""
    return _SHORT.repr(value)


# Strings that YAML 1.1 (PyYAML's default) would have read as numbers or booleans; recipe files are
# read with the YAML 1.2 core schema (na_accel.recipe.files), where they stay strings.
_YAML11_NUMBER = re.compile(r"[-+]?(0b[01_]+|[0-9][0-9_]*(:[0-5]?[0-9])*(\.[0-9_]*)?([eE][-+]?[0-9]+)?)")
_YAML11_BOOL = re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF")


def yaml11_hint(value: Any, kind: str) -> str:
    """For an error where ``kind`` ("integer" or "boolean") was expected: why ``value``, a string
    YAML 1.1 would have read as one, is a string here, or ''."""
    if not isinstance(value, str):
        return ""
    if kind == "boolean" and _YAML11_BOOL.fullmatch(value):
        return "; recipe files are YAML 1.2, where yes/no/on/off are strings: write true or false"
    if kind == "integer" and _YAML11_NUMBER.fullmatch(value):
        return ("; recipe files are YAML 1.2, where this is a string (no sexagesimal 1:30, no digit "
                "separators 1_000, no 0b binary): write the number in decimal (or 0o octal, 0x hex)")
    return ""


def check_plain_data(data: Any, where: str = "recipe") -> None:
    """Raise RecipeError unless ``data`` is a bounded tree of plain data (see the module docstring)."""
    _Walk().visit(data, where, depth=1)


def describe_int(value: int) -> str:
    """An integer for an error message: the number itself, or its size when it is huge."""
    if abs(value) < 10**30:
        return str(value)
    return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"  # str() may refuse


def int_out_of_range(where: str, value_text: str) -> RecipeError:
    return RecipeError(f"{where}: {value_text} is out of range; a recipe's integers lie within "
                       f"±(2**63 - 1) (na_accel.recipe.data.MAX_INT)")


class _Walk:
    def __init__(self) -> None:
        self.values = 0
        self.path_ids: set[int] = set()  # containers on the way down to the current value

    def visit(self, value: Any, where: str, depth: int) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise RecipeError(f"{where}: the recipe has more than {MAX_VALUES} values "
                              "(na_accel.recipe.data.MAX_VALUES); recipes are small data")
        if isinstance(value, SCALARS):
            self._check_scalar(value, where)
            return
        if not isinstance(value, (Mapping, list, tuple)):
            raise RecipeError(f"{where}: expected plain data (a mapping, list, string, number, boolean "
                              f"or null), got a {type(value).__name__}")
        if depth > MAX_DEPTH:
            raise RecipeError(f"{where}: nested deeper than {MAX_DEPTH} levels "
                              "(na_accel.recipe.data.MAX_DEPTH); recipes are small data")
        if id(value) in self.path_ids:
            raise RecipeError(f"{where}: the value refers to itself (a cycle); a recipe must be a tree of plain data")
        self.path_ids.add(id(value))
        try:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    self._check_key(key, where)
                    self.visit(item, f"{where}.{_short(key)}", depth + 1)
            else:
                for index, item in enumerate(value):
                    self.visit(item, f"{where}[{index}]", depth + 1)
        finally:
            self.path_ids.discard(id(value))

    @staticmethod
    def _check_scalar(value: Any, where: str) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise int_out_of_range(where, describe_int(value))
        if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            raise RecipeError(f"{where}: a string longer than {MAX_STRING_CHARS} characters "
                              "(na_accel.recipe.data.MAX_STRING_CHARS)")

    @staticmethod
    def _check_key(key: Any, where: str) -> None:
        if not isinstance(key, str):
            raise RecipeError(f"{where}: keys must be strings, got a key of type {type(key).__name__}")
        if len(key) > MAX_STRING_CHARS:
            raise RecipeError(f"{where}: a key longer than {MAX_STRING_CHARS} characters "
                              "(na_accel.recipe.data.MAX_STRING_CHARS)")


def _short(key: str, limit: int = 40) -> str:
    return key if len(key) <= limit else key[: limit - 3] + "..."
