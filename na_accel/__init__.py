"""na_accel: training-free Generalized Neighborhood Attention for diffusers pipelines.

    import na_accel
    pipe = na_accel.patch(pipe, recipe="flux_gna")
    print(na_accel.describe(pipe))
    na_accel.unpatch(pipe)

    print(na_accel.estimate_recipe("flux_gna", height=4096, width=4096))  # before running anything
"""

from .describe import PatchReport, describe
from .errors import ArgumentError, BackendUnavailableError, NaAccelError, PatchStateError, RecipeError, UnsupportedModelError
from .kernels import BACKEND_NAMES
from .patch import patch, unpatch
from .recipe import Recipe, list_recipes, load_recipe
from .tools.estimate import estimate_recipe  # the public face may use a tool; the core never does
from .windows import WindowSpec

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
    "estimate_recipe",
    "list_recipes",
    "load_recipe",
    "patch",
    "unpatch",
]
