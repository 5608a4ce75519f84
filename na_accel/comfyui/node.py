"""The ComfyUI nodes "GNA sparse attention (na_accel)" and "GNA report (na_accel)" (ComfyUI's classic
node interface).

ComfyUI loads it through the node pack ``custom_nodes/comfyui-na-accel`` (docs/comfyui.md), whose
``__init__`` re-exports ``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS`` from here.
"""

from __future__ import annotations

from typing import Any

from ..kernels import AUTO, BACKEND_NAMES
from ..recipe import list_recipes
from ..recipe.checks import SPEED_GATES
from .families import COMFY_FAMILIES
from .patch import RECIPE_SPEED_GATE, describe_model, patch_model

FROM_FILE = "(recipe_file)"  # the recipe choice that reads the recipe_file input instead


def comfy_recipes() -> list[str]:
    """The shipped recipes of the families the node patches (ComfyUI shows them in a list)."""
    families = {family.name for family in COMFY_FAMILIES}
    return [name for name in list_recipes() if name.removesuffix("_gna") in families]


class GNASparseAttention:
    """Patches a MODEL's self attention with Generalized Neighborhood Attention; returns a patched clone."""

    DESCRIPTION = ("Training-free sparse attention: each image / video token attends to its neighborhood "
                   "(GNA windows from a recipe) and to all text. Returns a patched clone; the input model is "
                   "unchanged. Each sampling run logs what ran (sparse / full window / dense and why).")
    CATEGORY = "advanced/attention_experiments"
    RETURN_TYPES = ("MODEL", "STRING")
    RETURN_NAMES = ("model", "plan")
    OUTPUT_TOOLTIPS = ("the patched clone", "the plan per layer (what describe shows before anything ran)")
    FUNCTION = "patch"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        recipes = comfy_recipes()
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "FLUX, Wan, HunyuanVideo, Qwen-Image, Cosmos Predict2 or LTX-Video"}),
                "recipe": ([*recipes, FROM_FILE], {
                    "default": recipes[0] if recipes else FROM_FILE,
                    "tooltip": "the GNA windows per layer; the model's family must match (flux_gna for FLUX, ...)"}),
                "backend": (list(BACKEND_NAMES), {
                    "default": AUTO,
                    "tooltip": "auto picks the fastest kernel that runs on the GPU (NATTEN, na_accel's Triton kernel)"}),
                "start_percent": ("FLOAT", {
                    "default": 0.0, "min": 0.0, "max": 1.0, "step": 0.001,
                    "tooltip": "GNA from this point of the schedule; dense before it (like a recipe's dense_steps)"}),
                "end_percent": ("FLOAT", {
                    "default": 1.0, "min": 0.0, "max": 1.0, "step": 0.001,
                    "tooltip": "GNA until this point of the schedule; dense after it (like dense_final_steps)"}),
                "speed_gate": ([RECIPE_SPEED_GATE, *SPEED_GATES], {
                    "default": RECIPE_SPEED_GATE,
                    "tooltip": "auto: sparse only where the GPU's cost model says it pays; sparse: always; "
                               "dense: never (a stock baseline under the same node)"}),
            },
            "optional": {
                "recipe_file": ("STRING", {
                    "default": "",
                    "tooltip": f"a recipe .yaml / .json path (na-accel tune writes them); used when recipe is "
                               f"{FROM_FILE}"}),
            },
        }

    def patch(self, model: Any, recipe: str, backend: str, start_percent: float, end_percent: float,
              speed_gate: str, recipe_file: str = "") -> tuple[Any, str]:
        source = recipe_file.strip() if recipe == FROM_FILE else recipe
        if not source:
            from ..errors import ArgumentError

            raise ArgumentError(f"recipe_file: empty; with recipe {FROM_FILE}, give a recipe .yaml / .json path")
        patched = patch_model(model, source, backend=backend, start_percent=start_percent,
                              end_percent=end_percent, speed_gate=speed_gate)
        return patched, describe_model(patched)


class GNAReport:
    """What a patched model's attention calls ran so far: ``describe_model``'s text, after sampling."""

    DESCRIPTION = ("The per-layer report of a model the GNA node patched: windows that ran, sparse / full-window / "
                   "dense calls and why. Connect the sampler's LATENT so that it runs after sampling.")
    CATEGORY = "advanced/attention_experiments"
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("report",)
    FUNCTION = "report"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {"model": ("MODEL", {"tooltip": "the model the GNA node returned"})},
            "optional": {"samples": ("LATENT", {"tooltip": "the sampler's output: orders this node after sampling"})},
        }

    def report(self, model: Any, samples: Any = None) -> dict[str, Any]:
        text = describe_model(model)
        return {"ui": {"text": [text]}, "result": (text,)}


NODE_CLASS_MAPPINGS = {"NaAccelGNASparseAttention": GNASparseAttention, "NaAccelGNAReport": GNAReport}
NODE_DISPLAY_NAME_MAPPINGS = {"NaAccelGNASparseAttention": "GNA sparse attention (na_accel)",
                              "NaAccelGNAReport": "GNA report (na_accel)"}

__all__ = ["GNAReport", "GNASparseAttention", "NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "comfy_recipes"]
