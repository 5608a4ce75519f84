"""A selection written as a normal recipe: per-layer rules, with the errors that tuned it in its metadata.

The windows are absolute, for the grid they were measured at (no ``scaling`` section: a tuned
window is a measured fact at one size, not a share to scale). The most common choice is the
``default``; every other layer gets an exact-name rule, the base recipe's dense layers included.
"""

from __future__ import annotations

import glob
from collections import Counter
from typing import Any, Mapping, Sequence

import yaml

from ..recipe.model import LayerRule, Recipe
from ..windows import WindowSpec
from .selection import Selection

ERROR_NORM = ("relative Frobenius error of the layer's attention output (before the output projection) over "
              "the sampled visual query rows, every head and batch row: sqrt(sum ||O_window - O_dense||^2 / "
              "sum ||O_dense||^2) over all calls of a step; a layer's error is its largest over the sparse steps")


# The one speed figure a tune prints (terminal, the recipe's comment header and description, the HTML report):
# its name, and what it is. `na-accel estimate`'s figures (shown after it) are other quantities, named there.
SPEEDUP_NAME = "tune's attention speed-up estimate"
SPEEDUP_DEFINITION = ("dense attention over the tuned recipe's, summed over the measured layers' calls on this pipeline "
                      "(text rows included) and all steps (dense steps at 1x): estimated time from the device's "
                      "cost profile where one applies, else dense attention FLOPs over the FLOPs of the tiles the "
                      "backend visits; not a measurement")


def speedup_text(cost: float, definition: bool = False) -> str:
    """``tune's attention speed-up estimate: 10.83x`` (and its definition) for a relative cost."""
    text = f"{SPEEDUP_NAME}: {1 / cost:.2f}x"
    return f"{text} ({SPEEDUP_DEFINITION})" if definition else text


def _significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def tuned_recipe(base: Recipe, layer_names: Sequence[str], selection: Selection, tune_info: Mapping[str, Any],
                 tuned_for: Mapping[str, Any], size: str, name: str | None = None) -> Recipe:
    """The recipe of ``selection`` over every attention layer in ``layer_names`` (unmeasured ones dense)."""
    chosen: dict[str, WindowSpec | None] = {c.name: (c.candidate.spec if c.candidate else None)
                                            for c in selection.layers}
    settings = [(n, chosen.get(n)) for n in layer_names]
    counts = Counter(_setting_key(s) for _, s in settings)  # in first-seen order: ties go to the first
    default_key = max(counts, key=counts.get) if counts else ("dense",)
    default = next((s for _, s in settings if _setting_key(s) == default_key), None)
    rules = tuple(LayerRule(glob.escape(n), s) for n, s in settings if _setting_key(s) != default_key)
    layers = {c.name: _layer_metadata(c) for c in selection.layers}
    cost = selection.relative_cost
    metadata = {
        "description": (f"{base.model} GNA tuned by na-accel tune on {tune_info['model']} at {size}: "
                        f"every layer's attention error <= {tune_info['max_error']:g}; {speedup_text(cost)}"),
        "source": f"na-accel tune of recipe {tune_info['base_recipe']['name']} [{tune_info['base_recipe']['hash']}]",
        "tuned_for": dict(tuned_for),
        "metadata": {"tune": {**tune_info, "error_norm": ERROR_NORM,
                              "dense_steps_chosen": selection.dense_steps,
                              "dense_final_steps_chosen": selection.dense_final_steps,
                              "estimated_attention_speedup": _significant(1 / cost),
                              "layers": layers}},
    }
    return Recipe(model=base.model, dense_steps=selection.dense_steps, default=default, layers=rules,
                  name=name or f"{base.name or base.model}_tuned", metadata=metadata,
                  dense_final_steps=selection.dense_final_steps, speed_gate=base.speed_gate,
                  source="na-accel tune")


def _setting_key(setting: WindowSpec | None) -> tuple:
    if setting is None:
        return ("dense",)
    return (setting.kernel_size, setting.stride, setting.dilation, setting.is_causal)


def _layer_metadata(choice) -> dict[str, Any]:
    if choice.candidate is None:
        return {"window": "dense", "error": 0.0, "expected_speedup": 1.0}
    return {"window": choice.candidate.window.window_text, "error": _significant(choice.error),
            "expected_speedup": _significant(1 / choice.candidate.cost)}


def recipe_yaml(recipe: Recipe, header: Sequence[str] = ()) -> str:
    """The recipe as YAML (``load_recipe`` reads it back equal), after ``header`` comment lines."""
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return comments + yaml.safe_dump(recipe.to_dict(), sort_keys=False, width=110)


__all__ = ["ERROR_NORM", "SPEEDUP_DEFINITION", "SPEEDUP_NAME", "recipe_yaml", "speedup_text", "tuned_recipe"]
