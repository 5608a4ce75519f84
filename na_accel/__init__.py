"""na_accel: training-free Generalized Neighborhood Attention for diffusers pipelines.

    import na_accel
    pipe = na_accel.patch(pipe, recipe="flux_gna")
    print(na_accel.describe(pipe))
    na_accel.unpatch(pipe)

    print(na_accel.estimate_recipe("flux_gna", height=4096, width=4096))  # before running anything
    na_accel.tune(pipe, "flux_gna", max_error=0.05).write("flux_tuned.yaml")  # on your weights
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (ArgumentError, BackendUnavailableError, CostProfileError, NaAccelError, PatchStateError, RecipeError,
                     UnsupportedModelError)
from .lazy import lazy_exports
from .version import __version__

# Imported on first use: `import na_accel` (and the CLI's light commands) start without torch.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".kernels": ["BACKEND_NAMES"],
    ".patch_report": ["PatchReport", "describe"],
    ".patching": ["patch", "unpatch"],
    ".recipe": ["Recipe", "list_recipes", "load_recipe"],
    ".commands.estimate": ["estimate_recipe"],  # the public face may use a command's engine; the core never does
    ".tuning": ["TuneResult", "tune"],
    ".windows": ["WindowSpec"],
}, eager=["ArgumentError", "BackendUnavailableError", "CostProfileError", "NaAccelError", "PatchStateError", "RecipeError",
          "UnsupportedModelError", "__version__"])

if TYPE_CHECKING:  # what type checkers and editors see
    from .kernels import BACKEND_NAMES
    from .patch_report import PatchReport, describe
    from .patching import patch, unpatch
    from .recipe import Recipe, list_recipes, load_recipe
    from .commands.estimate import estimate_recipe
    from .tuning import TuneResult, tune
    from .windows import WindowSpec
