"""na_accel: training-free Generalized Neighborhood Attention for diffusers pipelines.

    import na_accel
    pipe = na_accel.patch(pipe, recipe="flux_gna")
    print(na_accel.describe(pipe))
    na_accel.unpatch(pipe)
"""

from .backends import BACKEND_NAMES
from .describe import PatchReport, describe
from .errors import (
    ArgumentError,
    BackendUnavailableError,
    NaAccelError,
    PatchStateError,
    RecipeError,
    UnsupportedModelError,
)
from .patch import patch, unpatch
from .recipe import Recipe, WindowSpec, list_recipes, load_recipe

__version__ = "0.1.0"

__all__ = [
    "BACKEND_NAMES",
    "ArgumentError",
    "BackendUnavailableError",
    "NaAccelError",
    "PatchReport",
    "PatchStateError",
    "Recipe",
    "RecipeError",
    "UnsupportedModelError",
    "WindowSpec",
    "describe",
    "list_recipes",
    "load_recipe",
    "patch",
    "unpatch",
]
