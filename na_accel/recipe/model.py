"""The recipe model: which attention layers run GNA with which window, and how windows follow the grid.

A recipe is plain data (a dict, a YAML/JSON file, or a shipped name)::

    {"model": "flux",
     "dense_steps": 0,            # the first N denoising steps run dense (warm-up)
     "dense_final_steps": 0,      # and the last N (detail; optional, default 0)
     "speed_gate": "auto",        # sparse only where the device's cost model says it pays
     "default": {"kernel_size": [80, 80], "stride": [16, 16], "dilation": [1, 1]},
     "layers": [{"match": "transformer_blocks.0.attn", "dense": true},
                {"match": "single_transformer_blocks.*", "kernel_size": [64, 64]}]}

``parse`` turns that data into a ``Recipe``, whose construction checks every field (``checks``:
the same checks for a file, a dict and ``Recipe(...)``); ``to_dict`` and ``hash`` derive from the
fields, nothing else. At run time a layer's window is resolved against
the actual grid (``Recipe.resolve``: the optional ``scaling`` section scales, overrides and snaps
it; then ``WindowSpec.resolve``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from ..errors import RecipeError
from ..windows import ResolvedWindow, WindowSpec
from .checks import MAX_DENSE_STEPS, METADATA_KEYS, check_recipe, compiled_regex  # noqa: F401 (re-exported)
from .data import short_repr
from .scaling import ScalingSpec, SnapContext, resolve_window

WINDOW_KEYS = ("kernel_size", "stride", "dilation", "is_causal")
RECIPE_KEYS = ("model", "dense_steps", "dense_final_steps", "speed_gate", "default", "layers", "scaling")
# The version of the canonical form ``Recipe.hash`` covers: bump it when that form changes.
HASH_FORMAT = 2  # 2: speed_gate


@dataclass(frozen=True)
class LayerRule:
    """One entry of ``layers``: a name pattern and what matching layers run."""

    match: str
    window: WindowSpec | None  # None: the matching layers keep stock (dense) attention
    index: int = 0  # its position in Recipe.layers (the Recipe sets it)

    def matches(self, name: str) -> bool:
        if self.match.startswith("re:"):  # RE2 (linear time), compiled once per pattern: checks.compiled_regex
            return compiled_regex(self.match[3:], self.label).fullmatch(name) is not None
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
    """A validated recipe. The typed fields are all it is: ``to_dict`` and ``hash`` derive from
    them, and constructing one (``parse``, ``Recipe(...)``, ``dataclasses.replace``) checks them."""

    model: str
    dense_steps: int
    default: WindowSpec | None
    layers: tuple[LayerRule, ...] = ()
    name: str | None = None
    # The documentation keys (description, source — the file's own note, not the field below —,
    # provenance, tuned_for, notes, metadata): in to_dict, not in the hash.
    metadata: Mapping[str, Any] = field(default_factory=dict)
    scaling: ScalingSpec | None = None  # recipe.scaling: resolution-aware windows (None: absolute)
    # Where it was loaded from ("shipped recipe 'flux_gna' (<path>)", "file '<path>'", "dict");
    # not content: equal recipes from different places are equal and hash alike.
    source: str = field(default="a Recipe built in Python", compare=False)
    dense_final_steps: int = 0  # the last N denoising steps run dense too
    # "auto": a layer runs GNA only where the cost model of the device says it pays
    # (na_accel.speed.gate); "sparse": always the windows; "dense": never (the stock baseline)
    speed_gate: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", _numbered(self.layers))
        check_recipe(self)
        # Canonical values, so that equal behaviour is equal: a plain copy of the metadata (YAML
        # dates as ISO strings), and the scaling section as it acts.
        object.__setattr__(self, "metadata", json.loads(json.dumps(dict(self.metadata), default=str)))
        object.__setattr__(self, "scaling", self.scaling.canonical() if self.scaling is not None else None)

    def dense_step_reason(self, step: int, total_steps: int | None) -> str | None:
        """Why denoising step ``step`` (0-based) of ``total_steps`` runs dense, or None: it runs as
        the layers say. The last steps need the schedule's length; unknown, they run sparse."""
        if step < self.dense_steps:
            return f"dense step (step < dense_steps={self.dense_steps})"
        if self.dense_final_steps and total_steps is not None and step >= total_steps - self.dense_final_steps:
            return f"dense final step (one of the last dense_final_steps={self.dense_final_steps} of {total_steps})"
        return None

    def dense_step_count(self, steps: int) -> int:
        """How many of ``steps`` denoising steps run dense (first ``dense_steps``, last ``dense_final_steps``)."""
        return min(steps, self.dense_steps + self.dense_final_steps)

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
        """The recipe in its dict form, every window complete; ``load_recipe(r.to_dict()) == r``."""
        out = self._content()
        if self.name is not None:
            out["name"] = self.name
        return {**out, **json.loads(json.dumps(self.metadata))}

    def canonical_form(self) -> dict[str, Any]:
        """What ``hash`` covers: the behaviour (no name, metadata or source), with its format version."""
        return {"format": HASH_FORMAT, **self._content()}

    @property
    def hash(self) -> str:
        """Short content hash of the canonical form: equal behaviour, equal hash."""
        canonical = json.dumps(self.canonical_form(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def _content(self) -> dict[str, Any]:
        out = {
            "model": self.model,
            "dense_steps": self.dense_steps,
            "dense_final_steps": self.dense_final_steps,
            "speed_gate": self.speed_gate,
            "default": _window_dict(self.default),
            "layers": [{"match": rule.match, **_window_dict(rule.window)} for rule in self.layers],
        }
        if self.scaling is not None:
            out["scaling"] = self.scaling.to_dict()
        return out


def _window_dict(window: WindowSpec | None) -> dict[str, Any]:
    return {"dense": True} if window is None else window.to_dict()


def _numbered(layers: Any) -> tuple[LayerRule, ...]:
    """The rules as a tuple, each with its position as ``index``."""
    if not isinstance(layers, (tuple, list)) or not all(isinstance(rule, LayerRule) for rule in layers):
        raise RecipeError(f"recipe.layers: expected a tuple of na_accel.recipe.LayerRule, got {short_repr(layers)}")
    return tuple(rule if rule.index == index else replace(rule, index=index) for index, rule in enumerate(layers))
