"""Reading a recipe file safely: bounded, UTF-8, plain YAML or JSON data only.

Recipes are small data. A file is refused with a ``RecipeError`` that names the file and the
problem (never echoing its contents beyond the offending key) when it:

* is not a regular file (a directory, a device such as /dev/null, a named pipe) or cannot be read;
* is larger than ``MAX_RECIPE_BYTES`` (1 MiB; the shipped recipes are ~2 KiB);
* is not UTF-8 text (a UTF-8 byte-order mark is fine; UTF-16 is not);
* is not valid YAML (``.json`` files: JSON);
* uses YAML anchors, aliases or merge keys (``&a``, ``*a``, ``<<``): they let a few hundred bytes
  expand into gigabytes ("billion laughs"), and recipes have no use for them;
* repeats a key within one mapping (plain YAML and JSON loaders silently keep the last one);
* nests deeper than ``recipe_data.MAX_DEPTH`` or writes an integer longer than ``MAX_INT_CHARS``
  characters: refused while parsing, before Python's recursion or int-conversion limits are hit.

YAML scalars are read with the YAML 1.2 core schema, not PyYAML's YAML 1.1 one, so numbers mean
what they look like: ``010`` is 10 (not octal 8), ``1:30`` is a string (not sexagesimal 90),
``yes``/``no``/``on``/``off`` are strings (not booleans), ``2025-01-01`` is a string (not a date),
``1_000`` is a string (no digit separators). Octal and hex are written ``0o17`` and ``0x1f``; the
booleans are ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE``; null is ``~``,
``null``/``Null``/``NULL`` or nothing. The checks then refuse a string where a number or a boolean
belongs, naming the field.

What parses is then checked like any recipe given as a dict (``recipe_data.check_plain_data``).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent

from ..errors import RecipeError
from .data import MAX_DEPTH, short_repr

MAX_RECIPE_BYTES = 1 << 20  # 1 MiB
MAX_INT_CHARS = 64  # an integer literal longer than this is refused before it is converted
_RANGE = "a recipe's integers lie within ±(2**63 - 1) (na_accel.recipe.data.MAX_INT)"


def read_recipe_file(path: Path, label: str, missing_hint: str = "") -> Any:
    """The data in the recipe file at ``path``; ``label`` names it in errors (e.g. "file '/x.yaml'")."""
    return parse_recipe_bytes(_read_bounded(path, label, missing_hint), label, _is_json(path.name))


def parse_recipe_bytes(data: bytes, label: str, is_json: bool) -> Any:
    """Decode and parse a recipe file's bytes (JSON or YAML), refusing what the module docstring lists."""
    text = _decode(data, label)
    if not text.strip():
        raise RecipeError(f"recipe: {label} is empty; a recipe is a mapping with at least 'model' and 'default'")
    try:
        return _parse_json(text) if is_json else _parse_yaml(text)
    except _Refused as exc:
        raise RecipeError(f"recipe: {label}: {exc.where}{exc.problem}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe: {label} is not valid YAML: {_yaml_problem(exc)}") from None
    except json.JSONDecodeError as exc:
        raise RecipeError(
            f"recipe: {label} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _is_json(name: str) -> bool:
    return name.lower().endswith(".json")


# --------------------------------------------------------------------------------------------
# Bytes and text
# --------------------------------------------------------------------------------------------


def _read_bounded(path: Path, label: str, missing_hint: str) -> bytes:
    # O_NONBLOCK: opening a named pipe must not wait for a writer; fstat then refuses it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise RecipeError(f"recipe: {label} does not exist{missing_hint}") from None
    except OSError as exc:
        raise RecipeError(f"recipe: {label} cannot be read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise RecipeError(f"recipe: {label} is a directory, not a recipe file")
        raise RecipeError(f"recipe: {label} is not a regular file (a device, pipe or socket); "
                          "a recipe is a .yaml/.yml/.json file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_RECIPE_BYTES + 1)  # bounded whatever the file claims its size is
        except OSError as exc:
            raise RecipeError(f"recipe: {label} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"recipe: {label} is larger than {MAX_RECIPE_BYTES} bytes "
                          "(na_accel.recipe.files.MAX_RECIPE_BYTES); recipes are small data")
    return data


def _decode(data: bytes, label: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RecipeError(f"recipe: {label} is UTF-16 text; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise RecipeError(f"recipe: {label} is not UTF-8 text (a NUL byte at offset {nul}: UTF-16?); "
                          "save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"recipe: {label} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); save it as UTF-8") from None


class _Refused(Exception):
    """Valid syntax that recipes do not allow; ``where`` is "line L, column C: " when known."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _int_too_long(length: int) -> str:
    return f"an integer of {length} characters is out of range; {_RANGE}"


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------


class RecipeYamlLoader(yaml.SafeLoader):
    """yaml.SafeLoader without anchors, aliases, merge keys or duplicate keys, with bounded nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _Refused(f"aliases (*{event.anchor}) are not allowed in recipes: they expand shared "
                           "data; write the value out", event.start_mark)
        if event.anchor is not None:
            raise _Refused(f"anchors (&{event.anchor}) are not allowed in recipes: they exist to be "
                           "expanded by aliases; write the value out", event.start_mark)
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels (the limit, na_accel.recipe.data."
                           "MAX_DEPTH); recipes are small data", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        first_seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("merge keys (<<) are not allowed in recipes; write the keys out",
                               key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_seen.get(key)
            except TypeError:  # a list or mapping as a key
                raise _Refused("keys must be strings, got a list or mapping as a key", key_node.start_mark) from None
            if seen is not None:
                raise _Refused(f"duplicate key {short_repr(key)} (first at line {seen.line + 1}); each key "
                               "may appear once in a mapping", key_node.start_mark)
            first_seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_bounded_int(self, node):
        """A YAML 1.2 core integer (decimal, 0o octal, 0x hex), refused before conversion when long."""
        text = self.construct_scalar(node)
        if len(text) > MAX_INT_CHARS:
            raise _Refused(_int_too_long(len(text)), node.start_mark)
        if not YAML12_INT.fullmatch(text):  # only an explicit !!int tag gets here with other text
            raise _Refused(f"{short_repr(text)} is not a YAML 1.2 integer ({YAML12_INT_FORMS})", node.start_mark)
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)

    def construct_core_float(self, node):
        """A YAML 1.2 core float (Python's float() alone would also take 1_0 and 'infinity')."""
        text = self.construct_scalar(node)
        if YAML12_INF.fullmatch(text):
            return -math.inf if text.startswith("-") else math.inf
        if YAML12_NAN.fullmatch(text):
            return math.nan
        if not YAML12_FLOAT.fullmatch(text):
            raise _Refused(f"{short_repr(text)} is not a YAML 1.2 float", node.start_mark)
        return float(text)

    def construct_core_bool(self, node):
        text = self.construct_scalar(node)
        if not YAML12_BOOL.fullmatch(text):  # yes, no, on, off, y, n: strings in YAML 1.2
            raise _Refused(f"{short_repr(text)} is not a YAML 1.2 boolean (true or false)", node.start_mark)
        return text.lower() == "true"


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1023-core-schema), instead of the YAML 1.1
# rules PyYAML's SafeLoader resolves plain scalars with (octal 010, sexagesimal 1:30, yes/no/on/off
# booleans, timestamps, 1_000 digit separators).
YAML12_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
YAML12_INT_FORMS = "decimal digits, 0o octal or 0x hex"
YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
YAML12_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
YAML12_NAN = re.compile(r"\.(nan|NaN|NAN)")
YAML12_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
YAML12_NULL = re.compile(r"~|null|Null|NULL|")


def _whole(pattern: re.Pattern) -> re.Pattern:
    """PyYAML's resolver calls ``regexp.match``: anchor the pattern at the end too."""
    return re.compile(rf"(?:{pattern.pattern})\Z")


# A copy, not the dict SafeLoader's class shares with every other PyYAML user: cleared, then the
# core schema's resolvers (and the merge key's, so that ``<<`` is still refused by name).
RecipeYamlLoader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in [
    ("tag:yaml.org,2002:bool", YAML12_BOOL, "tTfF"),
    ("tag:yaml.org,2002:int", YAML12_INT, "-+0123456789"),
    ("tag:yaml.org,2002:float", YAML12_FLOAT, "-+.0123456789"),
    ("tag:yaml.org,2002:float", YAML12_INF, "-+."),
    ("tag:yaml.org,2002:float", YAML12_NAN, "."),
    ("tag:yaml.org,2002:null", YAML12_NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", re.compile(r"<<"), "<"),
]:
    RecipeYamlLoader.add_implicit_resolver(_tag, _whole(_regexp), list(_first))
RecipeYamlLoader.add_constructor("tag:yaml.org,2002:int", RecipeYamlLoader.construct_bounded_int)
RecipeYamlLoader.add_constructor("tag:yaml.org,2002:float", RecipeYamlLoader.construct_core_float)
RecipeYamlLoader.add_constructor("tag:yaml.org,2002:bool", RecipeYamlLoader.construct_core_bool)


def _parse_yaml(text: str) -> Any:
    loader = RecipeYamlLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, from PyYAML's error, without the snippet of the file it quotes."""
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"character {exc.position}: unacceptable character #x{code:04x}: {exc.reason}"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    return where + (problem if len(problem) <= 200 else problem[:197] + "...")


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

_JSON_SPECIAL = re.compile(r'[\[\]{}"\\]')


def _parse_json(text: str) -> Any:
    line = _json_line_too_deep(text)
    if line is not None:
        raise _Refused(f"line {line}: nested deeper than {MAX_DEPTH} levels (the limit, "
                       "na_accel.recipe.data.MAX_DEPTH); recipes are small data")
    return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_bounded_int)


def _json_line_too_deep(text: str) -> int | None:
    """The line where brackets outside strings first nest deeper than MAX_DEPTH, or None.

    json.loads recurses once per level (a RecursionError at ~1000), so depth is checked first,
    in one pass over the special characters only.
    """
    depth, in_string, escaped = 0, False, -1
    for match in _JSON_SPECIAL.finditer(text):
        position, char = match.start(), match.group()
        if position == escaped:
            continue
        if in_string:
            if char == "\\":
                escaped = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, position) + 1
        elif char in "]}":
            depth -= 1
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {short_repr(key)}; each key may appear once in an object")
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INT_CHARS:
        raise _Refused(_int_too_long(len(text)))
    return int(text)
