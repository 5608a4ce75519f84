"""Planning, pure: a recipe over a transformer's attention layer names -> what each layer runs.

``patch`` plans the layers of a live transformer (with the reasons its adapter gives for layers
whose processor can't be replaced), ``describe`` shows that plan before anything changes, and
``estimate`` plans a family's layer names without loading a model: all three share this.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .errors import RecipeError
from .recipe.model import LayerSetting, Recipe


@dataclass(frozen=True)
class LayerPlan:
    """What the recipe (and the layer's processor) say for one attention layer."""

    name: str
    setting: LayerSetting
    blocked: str | None = None  # why the layer stays stock although the recipe asks for GNA

    @property
    def sparse(self) -> bool:
        return self.setting.window is not None and self.blocked is None

    @property
    def dense_reason(self) -> str | None:
        """Why the layer stays stock (None when it runs GNA)."""
        if self.blocked is not None:
            return self.blocked
        if self.setting.window is None:
            return f"recipe {self.setting.source}"
        return None

    def describe(self) -> str:
        reason = self.dense_reason
        if reason is not None:
            return f"dense: {reason}"
        return f"GNA {self.setting.window.describe()} ({self.setting.source})"


def plan_layers(recipe: Recipe, layer_names: Iterable[str], blocked: Mapping[str, str] | None = None
                ) -> dict[str, LayerPlan]:
    """The plan of every layer in ``layer_names`` (in order); ``blocked`` maps a layer name to why
    its processor can't run GNA (only consulted for layers the recipe makes sparse)."""
    blocked = blocked or {}
    plans = {}
    for name in layer_names:
        setting = recipe.setting_for(name)
        plans[name] = LayerPlan(name, setting, blocked.get(name) if setting.window is not None else None)
    return plans


def check_rules_decide(recipe: Recipe, plans: Sequence[LayerPlan], where: str) -> None:
    """Every rule of ``recipe.layers`` decides at least one of the planned layers (those of every
    transformer ``where`` names), else a RecipeError naming the rule: a misspelled pattern would
    otherwise leave the layers it meant running as the default says, without a word (PEFT refuses
    ``target_modules`` that match nothing, for the same reason)."""
    decided = {plan.setting.source for plan in plans}
    names = [plan.name for plan in plans]
    for rule in recipe.layers:
        if rule.label in decided:
            continue
        matched = [name for name in names if rule.matches(name)]
        if matched:
            first = recipe.setting_for(matched[0]).source
            raise RecipeError(f"recipe {rule.label} decides no layer of {where}: every layer it matches "
                              f"({len(matched)}, e.g. {matched[0]}) is decided by an earlier rule, {first}; "
                              "rules are tried in order and the first match wins")
        pattern = rule.match[3:] if rule.match.startswith("re:") else rule.match
        close = difflib.get_close_matches(pattern, names, n=3, cutoff=0.4) or names[:3]
        raise RecipeError(f"recipe {rule.label} matches no attention layer of {where} ({len(names)} layers); "
                          f"close names: {', '.join(close)}; globs (fnmatch) and 're:' regexes match whole names")


__all__ = ["LayerPlan", "check_rules_decide", "plan_layers"]
