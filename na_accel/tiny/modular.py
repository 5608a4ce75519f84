"""Tiny MODULAR pipelines (``diffusers.modular_pipelines``) of families that also have classic ones:
the classic preset's tiny components under the family's modular blocks, with the same call defaults.

``tiny-flux-modular`` runs FluxAutoBlocks (FluxModularPipeline), ``tiny-wan2.2-modular`` Wan22Blocks
(Wan22ModularPipeline: two experts, ``transformer`` and ``transformer_2``, switching at the
boundary ratio). A modular call returns a ``PipelineState`` (``na_accel.pipeline_parts.generated``
reads what it generated); ``pipe(prompt="a red fox", output="images")`` gives the images.
"""

from __future__ import annotations

import dataclasses

from ._defaults import tiny_modular_pipeline
from ._imports import pipeline_classes
from .flux import tiny_flux_call, tiny_flux_pipeline
from .wan import TINY_WAN_BOUNDARY_RATIO, tiny_wan22_call, tiny_wan_pipeline


# Wan22Blocks guide with their guider component (classifier-free, its own guidance scale): no
# guidance_scale input, so the classic preset's is left out.
tiny_wan22_modular_call = dataclasses.replace(tiny_wan22_call, pipeline_kwargs={})


def _loaded_components(pipe) -> dict:
    return {name: component for name, component in pipe.components.items() if component is not None}


def tiny_flux_modular_pipeline(seed: int = 0):
    """FluxModularPipeline (FluxAutoBlocks) over the tiny-flux preset's components."""
    (FluxAutoBlocks,) = pipeline_classes("FluxAutoBlocks")
    return tiny_modular_pipeline(FluxAutoBlocks(), _loaded_components(tiny_flux_pipeline(seed)), tiny_flux_call())


def tiny_wan22_modular_pipeline(seed: int = 0):
    """Wan22ModularPipeline (Wan22Blocks) over the tiny-wan2.2 preset's components (two experts)."""
    (Wan22Blocks,) = pipeline_classes("Wan22Blocks")
    classic = tiny_wan_pipeline(seed, two_stage=True)
    pipe = tiny_modular_pipeline(Wan22Blocks(), _loaded_components(classic), tiny_wan22_modular_call())
    pipe.register_to_config(boundary_ratio=TINY_WAN_BOUNDARY_RATIO)
    return pipe


__all__ = ["tiny_flux_modular_pipeline", "tiny_wan22_modular_call", "tiny_wan22_modular_pipeline"]
