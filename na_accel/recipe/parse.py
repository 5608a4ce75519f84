"""Loading recipes: a name, path or dict into a ``Recipe``; every error names the field, the value
and what is allowed. Here only the dict's shape is checked (mappings, known keys, what is
missing); the values are checked where every ``Recipe`` is, in ``checks``."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from ..errors import RecipeError
from ..families.registry import supported_families
from ..windows import WindowSpec
from .checks import SNAP_CHOICES, Problems, check_grid, check_window, family_axes, problems_of, recipe_error
from .data import check_plain_data, short_repr, yaml11_hint
from .model import METADATA_KEYS, RECIPE_KEYS, WINDOW_KEYS, LayerRule, Recipe
from .scaling import MAX_AXIS, SCALING_KEYS, SNAP_AUTO, GridOverride, ScalingSpec, SnapSpec
from .sources import read_recipe_reference


def load_recipe(recipe: "str | os.PathLike[str] | Mapping[str, Any] | Recipe", *, field: str = "recipe") -> Recipe:
    """Load and validate a recipe: a shipped name, a .yaml/.json path, a dict or a Recipe.

    A ``str`` without a path separator or a recipe suffix is a shipped recipe's name; anything else
    is a path (``na_accel.recipe.sources``), read within the limits of ``na_accel.recipe.files``.
    ``field`` names how the user gave it, for the suggestions of a name or path that is not found:
    ``"recipe"`` (Python: ``recipe="flux_gna"``) or the command line's ``"--recipe"`` (``--recipe flux_gna``).
    """
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, Mapping):
        return parse_recipe(recipe)
    if isinstance(recipe, (str, os.PathLike)):
        found = read_recipe_reference(recipe, field)
        try:
            return parse_recipe(found.data, name=found.name, source=found.source)
        except RecipeError as exc:
            raise recipe_error(problems_of(exc), found.source) from None
    raise RecipeError(
        f"recipe: expected a shipped recipe name, a path, a dict or a na_accel.Recipe, "
        f"got {type(recipe).__name__}"
    )


def parse_recipe(data: Any, name: str | None = None, source: str = "dict") -> Recipe:
    """Turn the dict form of a recipe into a ``Recipe`` (which checks its values: ``checks``).

    Omitted keys take their defaults (a window's stride and dilation 1, not causal; a rule's from
    ``default``), a per-axis shorthand ``8`` becomes one entry per axis. ``name`` (a shipped
    recipe's name; a file's own ``name`` key, else its stem) names the recipe over its ``name`` key; ``source`` says where it came from.
    """
    if not isinstance(data, Mapping):
        raise RecipeError(f"recipe: expected a mapping at the top level, got {type(data).__name__}")
    check_plain_data(data)  # before anything else walks it: cycles, depth, sizes (recipe_data)
    # Every problem is reported at once: each section is parsed on its own, a section that fails
    # stands in as something legal (dense, no rules, no scaling) so that the checks of the rest
    # (Recipe's, below) still run. Only a missing or unknown model stops early: the windows' shape
    # depends on the family.
    problems = Problems()
    with problems.check():
        _reject_unknown_keys("recipe", data, RECIPE_KEYS + METADATA_KEYS)
    if "model" not in data:
        problems.add(f"recipe.model: missing; allowed model families are {supported_families()}")
        problems.raise_any()
    try:
        axes = family_axes(data["model"])  # shorthands need the family's rank
    except RecipeError as exc:
        problems.add(exc)
        problems.raise_any()
        raise
    default = None
    # what rules inherit where the default could not be read: legal values that clash with nothing
    inherited = WindowSpec(kernel_size=(MAX_AXIS,) * len(axes), stride=(1,) * len(axes),
                           dilation=(1,) * len(axes), is_causal=(False,) * len(axes))
    if "default" not in data:
        problems.add("recipe.default: missing; give a window such as {'kernel_size': [...]} or {'dense': true}")
    else:
        with problems.check():
            default = _window("recipe.default", data["default"], None, axes, allow_match=False)
            check_window("recipe.default", default, axes)  # rules inherit it only when it is legal
            inherited = default

    # Absent, or an empty YAML value (null): no rules. Anything else present must be a list:
    # {}, 0 or false are errors, never "no rules".
    layers_raw: Sequence[Any] = []
    with problems.check():
        layers_raw = _list_or_none("recipe.layers", data.get("layers"), "a list of rules ({match: ..., window keys})")
    rules = []
    for index, rule_raw in enumerate(layers_raw):
        where = f"recipe.layers[{index}]"
        window = None  # a rule that can't be read stands in as dense (its match is still checked)
        with problems.check():
            window = _window(where, rule_raw, inherited, axes, allow_match=True)
        rules.append(LayerRule(match=rule_raw.get("match") if isinstance(rule_raw, Mapping) else "*", window=window))

    scaling = None
    if data.get("scaling") is not None:
        with problems.check():
            scaling = _scaling(data["scaling"], axes, data.get("tuned_for"))
    try:
        recipe = Recipe(
            model=data["model"],
            dense_steps=data.get("dense_steps", 0),
            dense_final_steps=data.get("dense_final_steps", 0),
            speed_gate=data.get("speed_gate", "auto"),
            default=default,
            layers=tuple(rules),
            name=name if name is not None else data.get("name"),
            metadata={k: data[k] for k in METADATA_KEYS if k in data and k != "name"},
            scaling=scaling,
            source=source,
        )
    except RecipeError as exc:
        problems.add(exc)
    problems.raise_any()
    return recipe

def _window(
    where: str, value: Any, inherited: WindowSpec | None, axes: tuple[str, ...], allow_match: bool
) -> WindowSpec | None:
    """The window a mapping states (None: dense); unstated keys come from ``inherited`` (the default)."""
    allowed = (("match",) if allow_match else ()) + ("dense",) + WINDOW_KEYS
    if not isinstance(value, Mapping):
        raise RecipeError(f"{where}: expected a mapping with keys from {list(allowed)}, got {short_repr(value)}")
    _reject_unknown_keys(where, value, allowed)
    dense = value.get("dense", False)
    if not isinstance(dense, bool):
        raise RecipeError(f"{where}.dense: expected true or false, got {short_repr(dense)}{yaml11_hint(dense, 'boolean')}")
    stated = [k for k in WINDOW_KEYS if k in value]
    if dense:
        if stated:
            raise RecipeError(
                f"{where}: 'dense: true' cannot be combined with window keys {stated}; "
                "remove them or set dense to false"
            )
        return None
    if "kernel_size" not in value and inherited is None:
        raise RecipeError(
            f"{where}.kernel_size: missing; a non-dense window needs kernel_size "
            f"(an int or a list of {len(axes)} ints for axes {list(axes)}), or set 'dense: true'"
        )
    n = len(axes)
    if inherited is None:  # the defaults of a window (its kernel_size is stated, checked above)
        inherited = WindowSpec(kernel_size=(), stride=(1,) * n, dilation=(1,) * n, is_causal=(False,) * n)
    return WindowSpec(**{k: _per_axis(value[k], n) if k in value else getattr(inherited, k) for k in WINDOW_KEYS})


def _scaling(data: Any, axes: tuple[str, ...], tuned_for: Any) -> ScalingSpec:
    """``recipe.scaling``; a relative section without ``tuned_grid`` takes ``tuned_for.token_grid``."""
    where = "recipe.scaling"
    if not isinstance(data, Mapping):
        raise RecipeError(f"{where}: expected a mapping with keys from {list(SCALING_KEYS)}, got {short_repr(data)}")
    _reject_unknown_keys(where, data, SCALING_KEYS)
    mode = data.get("mode", "absolute")
    tuned_grid = _as_tuple(data.get("tuned_grid"))
    if tuned_grid is None and mode == "relative" and tuned_for is not None:  # tuned_for is read: it must be a mapping
        if not isinstance(tuned_for, Mapping):
            raise RecipeError(f"recipe.tuned_for: expected a mapping (scaling mode 'relative' reads its "
                              f"token_grid), got {short_repr(tuned_for)}")
        if "token_grid" in tuned_for:
            tuned_grid = check_grid("recipe.tuned_for.token_grid", _as_tuple(tuned_for["token_grid"]), axes)

    # Absent or null: no overrides; [] too. {}, 0 or false are errors, never "no overrides".
    overrides_raw = _list_or_none(f"{where}.overrides", data.get("overrides"),
                                  "a list of {grid: [...], kernel_size: ...}")
    overrides = []
    for index, item in enumerate(overrides_raw):
        at = f"{where}.overrides[{index}]"
        if not isinstance(item, Mapping) or "grid" not in item:
            raise RecipeError(f"{at}: expected a mapping with 'grid' and window keys "
                              f"(kernel_size, stride, dilation, is_causal), got {short_repr(item)}")
        window = _window(at, {k: v for k, v in item.items() if k != "grid"}, None, axes, allow_match=False)
        overrides.append(GridOverride(_as_tuple(item["grid"]), window))
    return ScalingSpec(mode, tuned_grid, tuple(overrides), _snap(f"{where}.snap", data.get("snap", False)))


def _snap(where: str, value: Any) -> SnapSpec | None:
    if value is False or value is None:
        return None
    if value is True:
        return SnapSpec(SNAP_AUTO)
    if isinstance(value, str):
        return SnapSpec(value)  # checks: a known tile source
    if isinstance(value, Mapping):
        if set(value) != {"q_tile", "kv_tile"}:
            raise RecipeError(f"{where}: expected exactly the keys q_tile and kv_tile, got {short_repr(list(value))}")
        return SnapSpec("explicit", _as_tuple(value["q_tile"]), _as_tuple(value["kv_tile"]))
    from ..kernels.tiles import TILE_BACKENDS

    raise RecipeError(f"{where}: expected {SNAP_CHOICES.format(list(TILE_BACKENDS))}; got {short_repr(value)}")


def _list_or_none(where: str, value: Any, what: str) -> Sequence[Any]:
    """An optional list section: None (absent or null) as [], a list (or tuple) as it is, else a RecipeError."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RecipeError(f"{where}: expected {what}, got {short_repr(value)} (type {type(value).__name__}); "
                          "for none, give [] or leave the key out")
    return value


def _as_tuple(value: Any) -> Any:
    """A list (or tuple) as a tuple; anything else as it is, for the checks to name."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _per_axis(value: Any, count: int) -> Any:
    """A per-axis value: a list as a tuple, a single value repeated for every axis."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * count


def _reject_unknown_keys(where: str, mapping: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {short_repr(unknown)}; allowed keys are {list(allowed)}")
