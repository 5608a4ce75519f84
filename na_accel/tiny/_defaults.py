"""Tiny call defaults, so that a tiny pipeline is called like any diffusers pipeline.

A pipeline's call defaults are the full-size model's (FLUX 1024x1024; HunyuanVideo 720x1280 x 129
frames, a prompt template counted in Llama 3 tokens; Cosmos a negative prompt longer than the tiny
text length; 30-50 steps): on a tiny model they are slow or wrong. Each tiny pipeline is built as
a subclass of its diffusers class whose ``__call__`` fills every argument the caller left out from
the preset's call helper (sizes, steps, text length, prompt template, negative prompt), so
``pipe("a red fox")`` runs the preset's default generation. The subclass keeps its base's name
(``type(pipe).__name__ == "FluxPipeline"``): reports and ``save_pretrained`` name the real class.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ..pipeline_parts import disable_progress_bars, running_blocks

# What a plain call leaves to the pipeline itself: the prompt, the random generator, the output type.
_NOT_DEFAULTED = ("prompt", "generator", "output_type")


class TinyCallDefaults:
    """Mixin before a diffusers pipeline class: ``tiny_call_defaults`` fill what a call leaves out."""

    tiny_call_defaults: dict[str, Any] = {}

    def __call__(self, *args, **kwargs):
        base_call = super().__call__
        bound = inspect.signature(base_call).bind_partial(*args, **kwargs)
        for key, value in self.tiny_call_defaults.items():
            # a negative prompt given as embeddings must not get the default text as well
            if key not in bound.arguments and f"{key}_embeds" not in bound.arguments:
                bound.arguments[key] = value
        return base_call(*bound.args, **bound.kwargs)


@functools.cache
def tiny_pipeline_class(base: type) -> type:
    """``base`` (a diffusers pipeline class) with TinyCallDefaults in front, under the same name."""
    return type(base.__name__, (TinyCallDefaults, base), {"__module__": __name__, "__doc__": base.__doc__})


class TinyModularCallDefaults:
    """Mixin before a diffusers ModularPipeline class: ``tiny_call_defaults`` fill the keyword inputs a
    call leaves out (a modular call takes ``state``, ``output`` and its blocks' inputs as keywords)."""

    tiny_call_defaults: dict[str, Any] = {}

    def __call__(self, state=None, output=None, **kwargs):
        takes = set(running_blocks(self).input_names)  # a default the blocks don't take (guidance_scale: a guider's) is left out
        for key, value in self.tiny_call_defaults.items():
            if key in takes and key not in kwargs and f"{key}_embeds" not in kwargs:
                kwargs[key] = value
        return super().__call__(state, output, **kwargs)


@functools.cache
def tiny_modular_pipeline_class(base: type) -> type:
    """``base`` (a diffusers ModularPipeline class) with TinyModularCallDefaults in front, same name."""
    return type(base.__name__, (TinyModularCallDefaults, base), {"__module__": __name__, "__doc__": base.__doc__})


def tiny_modular_pipeline(blocks, components: dict[str, Any], call_kwargs: dict[str, Any]):
    """A modular pipeline of ``blocks`` (a ``ModularPipelineBlocks`` instance, e.g. ``FluxAutoBlocks()``)
    holding ``components`` (its expected components, built offline), with the call helper's defaults:
    ``pipe(prompt="a red fox")`` runs the preset's default generation and returns the blocks'
    ``PipelineState`` (``pipe(prompt=..., output="images")``: the images), as any modular pipeline."""
    stock = blocks.init_pipeline()
    pipe = tiny_modular_pipeline_class(type(stock))(blocks=blocks)
    pipe.update_components(**components)
    disable_progress_bars(pipe)
    return with_call_defaults(pipe, call_kwargs)


def with_call_defaults(pipe, call_kwargs: dict[str, Any]):
    """``pipe`` (built from ``tiny_pipeline_class(...)``) with the call helper's defaults for plain calls."""
    pipe.tiny_call_defaults = {k: v for k, v in call_kwargs.items() if k not in _NOT_DEFAULTED}
    return pipe
