"""Loading and validating recipes: every error names the field, the value and what is allowed."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping, Sequence

from ..errors import RecipeError
from ..families.geometry import FAMILY_AXES, supported_families
from ..windows import WindowSpec
from .data import check_plain_data, short_repr
from .model import MAX_DENSE_STEPS, METADATA_KEYS, RECIPE_KEYS, WINDOW_KEYS, LayerRule, Recipe
from .scaling import MAX_AXIS, check_int, parse_scaling
from .sources import read_recipe_reference


def load_recipe(recipe: "str | os.PathLike[str] | Mapping[str, Any] | Recipe") -> Recipe:
    """Load and validate a recipe: a shipped name, a .yaml/.json path, a dict or a Recipe.

    A ``str`` without a path separator or a recipe suffix is a shipped recipe's name; anything else
    is a path (``na_accel.recipe.sources``), read within the limits of ``na_accel.recipe.files``.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, Mapping):
        return parse_recipe(recipe)
    if isinstance(recipe, (str, os.PathLike)):
        found = read_recipe_reference(recipe)
        try:
            return parse_recipe(found.data, name=found.name, source=found.source)
        except RecipeError as exc:
            raise RecipeError(f"{exc} (in {found.source})") from None
    raise RecipeError(
        f"recipe: expected a shipped recipe name, a path, a dict or a na_accel.Recipe, "
        f"got {type(recipe).__name__}"
    )


def parse_recipe(data: Any, name: str | None = None, source: str = "dict") -> Recipe:
    """Validate the dict form of a recipe and build a ``Recipe``; ``source`` says where it came from."""
    if not isinstance(data, Mapping):
        raise RecipeError(f"recipe: expected a mapping at the top level, got {type(data).__name__}")
    check_plain_data(data)  # before anything else walks it: cycles, depth, sizes (recipe_data)
    _reject_unknown_keys("recipe", data, RECIPE_KEYS + METADATA_KEYS)

    if "model" not in data:
        raise RecipeError(f"recipe.model: missing; allowed model families are {supported_families()}")
    model = data["model"]
    if not isinstance(model, str) or model not in FAMILY_AXES:
        raise RecipeError(
            f"recipe.model: unknown model family {short_repr(model)}; allowed: {supported_families()}"
        )
    axes = FAMILY_AXES[model]

    dense_steps = data.get("dense_steps", 0)
    check_int("recipe.dense_steps", dense_steps, 0, MAX_DENSE_STEPS, "na_accel.recipe.MAX_DENSE_STEPS")
    dense_final_steps = data.get("dense_final_steps", 0)
    check_int("recipe.dense_final_steps", dense_final_steps, 0, MAX_DENSE_STEPS, "na_accel.recipe.MAX_DENSE_STEPS")

    if "default" not in data:
        raise RecipeError(
            "recipe.default: missing; give a window such as {'kernel_size': [...]} or {'dense': true}"
        )
    default_raw = _window_mapping("recipe.default", data["default"], allow_match=False)
    default = _build_window("recipe.default", default_raw, None, axes)

    layers_raw = data.get("layers")
    if layers_raw is None:  # absent, or an empty YAML value
        layers_raw = []
    if not isinstance(layers_raw, Sequence) or isinstance(layers_raw, (str, bytes)):
        raise RecipeError(
            f"recipe.layers: expected a list of rules, got {type(layers_raw).__name__}"
        )
    rules = []
    for index, rule_raw in enumerate(layers_raw):
        where = f"recipe.layers[{index}]"
        rule_map = _window_mapping(where, rule_raw, allow_match=True)
        match = rule_map.get("match")
        if not isinstance(match, str) or not match:
            raise RecipeError(
                f"{where}.match: expected a non-empty glob (fnmatch) or 're:<regex>' string, "
                f"got {short_repr(match)}"
            )
        if match.startswith("re:"):
            try:
                re.compile(match[3:])
            except re.error as exc:
                raise RecipeError(f"{where}.match: invalid regex {short_repr(match[3:])}: {exc}") from None
        window = _build_window(where, rule_map, default_raw, axes)
        rules.append(LayerRule(match=match, window=window, index=index))

    scaling = None
    if data.get("scaling") is not None:
        scaling = parse_scaling(
            data["scaling"], axes, data.get("tuned_for"),
            lambda where, mapping: _build_window(where, _window_mapping(where, mapping, False), None, axes),
        )

    metadata = {k: data[k] for k in METADATA_KEYS if k in data}
    raw = json.loads(json.dumps(dict(data), default=str))
    if name is not None and "name" not in raw:  # a file's stem names it: keep that in to_dict()
        raw["name"] = name
        metadata["name"] = name
    return Recipe(
        model=model,
        dense_steps=int(dense_steps),
        dense_final_steps=int(dense_final_steps),
        default=default,
        layers=tuple(rules),
        name=name if name is not None else metadata.get("name"),
        metadata=metadata,
        raw=raw,
        scaling=scaling,
        source=source,
    )


def _window_mapping(where: str, value: Any, allow_match: bool) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RecipeError(
            f"{where}: expected a mapping with keys from {list(_allowed_window_keys(allow_match))}, "
            f"got {short_repr(value)}"
        )
    _reject_unknown_keys(where, value, _allowed_window_keys(allow_match))
    return value


def _allowed_window_keys(allow_match: bool) -> tuple[str, ...]:
    return (("match",) if allow_match else ()) + ("dense",) + WINDOW_KEYS


def _build_window(
    where: str,
    own: Mapping[str, Any],
    inherited: Mapping[str, Any] | None,
    axes: tuple[str, ...],
) -> WindowSpec | None:
    """Window keys of ``own``, missing ones taken from ``inherited`` (the default), validated."""
    dense = own.get("dense", False)
    if not isinstance(dense, bool):
        raise RecipeError(f"{where}.dense: expected true or false, got {short_repr(dense)}")
    own_window_keys = [k for k in WINDOW_KEYS if k in own]
    if dense:
        if own_window_keys:
            raise RecipeError(
                f"{where}: 'dense: true' cannot be combined with window keys {own_window_keys}; "
                "remove them or set dense to false"
            )
        return None

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if inherited is not None and not inherited.get("dense", False):
        for key in WINDOW_KEYS:
            if key in inherited:
                merged[key] = inherited[key]
                origin[key] = "recipe.default"
    for key in own_window_keys:
        merged[key] = own[key]
        origin[key] = where

    if "kernel_size" not in merged:
        raise RecipeError(
            f"{where}.kernel_size: missing; a non-dense window needs kernel_size "
            f"(an int or a list of {len(axes)} ints for axes {list(axes)}), or set 'dense: true'"
        )

    def field_name(key: str) -> str:
        return f"{origin[key]}.{key}"

    kernel = _per_axis_ints(field_name("kernel_size"), merged["kernel_size"], axes, minimum=2)
    stride = (
        _per_axis_ints(field_name("stride"), merged["stride"], axes, minimum=1)
        if "stride" in merged
        else (1,) * len(axes)
    )
    dilation = (
        _per_axis_ints(field_name("dilation"), merged["dilation"], axes, minimum=1)
        if "dilation" in merged
        else (1,) * len(axes)
    )
    causal = (
        _per_axis_bools(field_name("is_causal"), merged["is_causal"], axes)
        if "is_causal" in merged
        else (False,) * len(axes)
    )
    for axis, (k, s) in enumerate(zip(kernel, stride)):
        if s > k:
            raise RecipeError(
                f"{field_name('stride')}: stride {s} on axis {axis} ({axes[axis]}) is larger than "
                f"kernel_size {k} ({field_name('kernel_size')}); stride must be <= kernel_size"
            )
    return WindowSpec(kernel_size=kernel, stride=stride, dilation=dilation, is_causal=causal)


def _per_axis_ints(where: str, value: Any, axes: tuple[str, ...], minimum: int) -> tuple[int, ...]:
    values = _per_axis(where, value, axes, "integer")
    for axis, item in enumerate(values):
        check_int(f"{where}[{axis}] ({axes[axis]})" if not _is_scalar(value) else where, item, minimum, MAX_AXIS)
    return tuple(int(v) for v in values)


def _per_axis_bools(where: str, value: Any, axes: tuple[str, ...]) -> tuple[bool, ...]:
    values = _per_axis(where, value, axes, "boolean")
    for axis, item in enumerate(values):
        if not isinstance(item, bool):
            raise RecipeError(f"{where}[{axis}] ({axes[axis]}): expected true or false, got {short_repr(item)}")
    return tuple(values)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (list, tuple))


def _per_axis(where: str, value: Any, axes: tuple[str, ...], kind: str) -> list[Any]:
    if _is_scalar(value):
        return [value] * len(axes)
    if len(value) != len(axes):
        raise RecipeError(
            f"{where}: expected one {kind} or a list of {len(axes)} (axes {list(axes)}), "
            f"got {short_repr(list(value))} with {len(value)} entries"
        )
    return list(value)


def _reject_unknown_keys(where: str, mapping: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {short_repr(unknown)}; allowed keys are {list(allowed)}")
