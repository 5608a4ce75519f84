"""Recipes: which attention layers run Generalized Neighborhood Attention, with which window.

A recipe is plain data (a dict, a YAML/JSON file, or a shipped name)::

    {"model": "flux",
     "dense_steps": 0,
     "default": {"kernel_size": [80, 80], "stride": [16, 16], "dilation": [1, 1]},
     "layers": [{"match": "transformer_blocks.0.attn", "dense": true},
                {"match": "single_transformer_blocks.*", "kernel_size": [64, 64]}]}

Everything is validated when the recipe is loaded; errors name the field, the value and what is
allowed. Windows are per token-grid axis: (height, width) for images, (frames, height, width) for
video. At run time a window is resolved against the actual grid (``Recipe.resolve``: the optional
``scaling`` section (``na_accel.scaling``) scales, overrides and snaps it; then ``WindowSpec.resolve``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import RecipeError
from .models.registry import FAMILY_AXES, supported_families
from .recipe_data import check_plain_data, short_repr
from .recipe_sources import RECIPE_FILE_SUFFIXES, list_recipes, read_recipe_reference  # noqa: F401
from .scaling import MAX_AXIS, ScalingSpec, SnapContext, check_int, parse_scaling, resolve_window

WINDOW_KEYS = ("kernel_size", "stride", "dilation", "is_causal")
RECIPE_KEYS = ("model", "dense_steps", "default", "layers", "scaling")
# Free-form documentation keys a recipe may carry; they never change behaviour.
METADATA_KEYS = ("name", "description", "source", "provenance", "tuned_for", "notes", "metadata")
MAX_DENSE_STEPS = 100_000  # denoising steps; real schedules have <= 1000


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedWindow:
    """A window made legal for one concrete token grid (what the kernel actually runs)."""

    grid: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    is_causal: tuple[bool, ...]
    clamped_axes: tuple[int, ...] = ()  # axes whose window was clamped to the whole axis
    scaled: str | None = None  # how recipe.scaling changed the window for this grid, if it did
    snapped: str | None = None  # the tiles it was snapped to (recipe.scaling.snap), if any
    requested: tuple | None = None  # (kernel_size, stride) before snapping

    @property
    def covers_grid(self) -> bool:
        """True when every query sees every token: the attention is dense."""
        return all(k == n and not c for k, n, c in zip(self.kernel_size, self.grid, self.is_causal))

    @property
    def density(self) -> float:
        """Fraction of visual query-key pairs computed, exact (border shifts and strides included).

        The N-D neighborhood mask is the outer product of per-axis masks, so its density is the
        product of the per-axis densities.
        """
        from .reference import axis_neighborhood_mask  # local import: reference imports this module

        fraction = 1.0
        for n, k, s, d, c in zip(self.grid, self.kernel_size, self.stride, self.dilation, self.is_causal):
            fraction *= axis_neighborhood_mask(n, k, s, d, c).float().mean().item()
        return fraction

    def describe(self) -> str:
        text = f"grid {_fmt(self.grid)}, " + _describe_window(
            self.kernel_size, self.stride, self.dilation, self.is_causal
        )
        if self.clamped_axes:
            text += f" (clamped to grid on axes {list(self.clamped_axes)})"
        if self.scaled:
            text += f" [{self.scaled}]"
        if self.snapped:
            text += f" [{self.snapped}"
            if self.requested and self.requested != (self.kernel_size, self.stride):
                text += f", from window {_fmt(self.requested[0])} stride {_fmt(self.requested[1])}"
            text += "]"
        return text


@dataclass(frozen=True)
class WindowSpec:
    """A GNA window as the recipe states it, one entry per token-grid axis."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    is_causal: tuple[bool, ...]

    def resolve(self, grid: Sequence[int]) -> ResolvedWindow:
        """Make the window legal for ``grid``.

        On an axis where kernel_size * dilation exceeds the grid, the window is clamped to the
        whole axis (kernel = axis length, stride 1, dilation 1: dense along it, or full-length
        causal on a causal axis). An axis of length 1 therefore gets kernel 1; the attention core
        drops such axes before calling NATTEN.
        """
        grid = tuple(int(n) for n in grid)
        if len(grid) != len(self.kernel_size):
            raise ValueError(
                f"grid {grid} has {len(grid)} axes but the window has {len(self.kernel_size)}"
            )
        kernel, stride, dilation, clamped = [], [], [], []
        for axis, (n, k, s, d) in enumerate(zip(grid, self.kernel_size, self.stride, self.dilation)):
            if k * d > n:
                kernel.append(n)
                stride.append(1)
                dilation.append(1)
                clamped.append(axis)
            else:
                kernel.append(k)
                stride.append(s)
                dilation.append(d)
        return ResolvedWindow(
            grid=grid,
            kernel_size=tuple(kernel),
            stride=tuple(stride),
            dilation=tuple(dilation),
            is_causal=self.is_causal,
            clamped_axes=tuple(clamped),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
        }
        if any(self.is_causal):
            out["is_causal"] = list(self.is_causal)
        return out

    def describe(self) -> str:
        return _describe_window(self.kernel_size, self.stride, self.dilation, self.is_causal)


def _describe_window(kernel, stride, dilation, causal) -> str:
    text = f"window {_fmt(kernel)} stride {_fmt(stride)} dilation {_fmt(dilation)}"
    if any(causal):
        text += f" causal {_fmt(tuple(int(c) for c in causal))}"
    return text


def _fmt(values: Sequence[int]) -> str:
    return "x".join(str(v) for v in values)


# --------------------------------------------------------------------------------------------
# Layer rules and the recipe
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRule:
    """One entry of ``layers``: a name pattern and what matching layers run."""

    match: str
    window: WindowSpec | None  # None: the matching layers keep stock (dense) attention
    index: int

    def matches(self, name: str) -> bool:
        if self.match.startswith("re:"):
            return re.fullmatch(self.match[3:], name) is not None
        return fnmatch.fnmatchcase(name, self.match)

    @property
    def label(self) -> str:
        return f"layers[{self.index}] (match {self.match!r})"


@dataclass(frozen=True)
class LayerSetting:
    """What a recipe says for one attention layer."""

    window: WindowSpec | None  # None: dense
    source: str  # which part of the recipe decided: "default" or a rule label


@dataclass(frozen=True)
class Recipe:
    model: str
    dense_steps: int
    default: WindowSpec | None
    layers: tuple[LayerRule, ...] = ()
    name: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    scaling: ScalingSpec | None = None  # recipe.scaling: resolution-aware windows (None: absolute)
    # Where it was loaded from ("shipped recipe 'flux_gna' (<path>)", "file '<path>'", "dict");
    # not content: equal recipes from different places are equal and hash alike.
    source: str = field(default="a Recipe built in Python", compare=False)

    def resolve(self, window: WindowSpec, grid: Sequence[int], context: SnapContext | None = None) -> ResolvedWindow:
        """``window`` (a layer's) made legal for ``grid``, following ``recipe.scaling``.

        Without a scaling section this is ``window.resolve(grid)``. ``context`` names the backend
        (and head_dim, dtype) whose tiles ``scaling.snap: auto`` snaps to.
        """
        return resolve_window(window, grid, self.scaling, context)

    def setting_for(self, layer_name: str) -> LayerSetting:
        """First matching rule wins; layers no rule matches take ``default``."""
        for rule in self.layers:
            if rule.matches(layer_name):
                return LayerSetting(rule.window, rule.label)
        return LayerSetting(self.default, "default")

    def to_dict(self) -> dict[str, Any]:
        """The recipe in its dict form; ``load_recipe(r.to_dict()) == r``."""
        return json.loads(json.dumps(self.raw))

    @property
    def hash(self) -> str:
        """Short content hash of the behaviour-relevant fields (metadata excluded)."""
        relevant = {k: self.raw[k] for k in RECIPE_KEYS if k in self.raw}
        if self.scaling is not None and self.scaling.tuned_grid is not None:
            relevant["tuned_grid"] = list(self.scaling.tuned_grid)  # may come from tuned_for
        canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_recipe(recipe: "str | os.PathLike[str] | Mapping[str, Any] | Recipe") -> Recipe:
    """Load and validate a recipe: a shipped name, a .yaml/.json path, a dict or a Recipe.

    A ``str`` without a path separator or a recipe suffix is a shipped recipe's name; anything else
    is a path (``na_accel.recipe_sources``), read within the limits of ``na_accel.recipe_files``.
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


__all__ = [
    "LayerRule",
    "LayerSetting",
    "Recipe",
    "ResolvedWindow",
    "WindowSpec",
    "list_recipes",
    "load_recipe",
    "parse_recipe",
]
