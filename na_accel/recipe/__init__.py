"""Recipes: the model (``model``), loading and validation (``parse``, with the hostile-file limits of
``files`` and ``data``), where named recipes come from (``sources``) and resolution-aware windows
(``scaling``)."""

from ..windows import ResolvedWindow, WindowSpec
from .model import MAX_DENSE_STEPS, LayerRule, LayerSetting, Recipe
from .parse import load_recipe, parse_recipe
from .sources import RECIPE_FILE_SUFFIXES, list_recipes

__all__ = [
    "MAX_DENSE_STEPS", "RECIPE_FILE_SUFFIXES", "LayerRule", "LayerSetting", "Recipe", "ResolvedWindow", "WindowSpec",
    "list_recipes", "load_recipe", "parse_recipe",
]
