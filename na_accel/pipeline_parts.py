"""What na_accel needs to know about a diffusers pipeline, classic (``DiffusionPipeline``) or modular
(``diffusers.modular_pipelines.ModularPipeline``): its denoising transformers and what a call
generated. Both kinds keep their models in ``pipe.components`` (a dict) and their scheduler at
``pipe.scheduler``; they differ in what a call returns (an output dataclass, a ``PipelineState``).
"""

from __future__ import annotations

import re
from typing import Any

import torch

# A pipeline's denoisers are its components named "transformer", "transformer_<x>" or "<x>_transformer"
# (Wan 2.2's transformer_2, MiniMax-H3's transformer_ref, Ideogram 4's unconditional_transformer).
_TRANSFORMER_COMPONENT = re.compile(r"transformer(_\w+)?|\w+_transformer")
# What a modular pipeline's state holds as its result, by the name its decoder block gives it.
_GENERATED_STATE_KEYS = ("videos", "images", "frames", "audios", "latents")


def is_modular(pipe: Any) -> bool:
    """True for a diffusers ModularPipeline (without importing diffusers when it was never loaded)."""
    return any(cls.__name__ == "ModularPipeline" and cls.__module__.startswith("diffusers.")
               for cls in type(pipe).__mro__)


def unwrap_compiled(module: Any) -> Any:
    """torch.compile wraps a model in an OptimizedModule; the model it wraps."""
    return getattr(module, "_orig_mod", module)


def pipeline_transformers(pipe: Any) -> list[tuple[str, torch.nn.Module]]:
    """``[(component name, transformer)]`` of a classic or modular pipeline: every loaded component
    named as a denoiser, ``transformer`` first, then in component order; a module shared by two names
    is listed once. Empty when ``pipe.components`` is not a dict (not a pipeline)."""
    components = getattr(pipe, "components", None)
    if not isinstance(components, dict):
        return []
    names = sorted((name for name in components if isinstance(name, str) and _TRANSFORMER_COMPONENT.fullmatch(name)),
                   key=lambda name: name != "transformer")
    found: list[tuple[str, torch.nn.Module]] = []
    for name in names:
        module = components.get(name)
        if not isinstance(module, torch.nn.Module):
            continue
        module = unwrap_compiled(module)
        if all(module is not seen for _, seen in found):
            found.append((name, module))
    return found


def running_blocks(pipe: Any) -> Any:
    """The blocks a modular pipeline runs (None for a classic one): ``_blocks`` since diffusers 0.37,
    whose ``blocks`` property returns a copy; ``blocks`` itself before."""
    attributes = getattr(pipe, "__dict__", {})
    return attributes.get("_blocks", attributes.get("blocks"))


def disable_progress_bars(pipe: Any) -> None:
    """Silence a pipeline's own progress bars. A modular pipeline's ``set_progress_bar_config`` reaches
    only its top-level blocks, while the denoising loop sits deeper (auto blocks -> denoise -> loop):
    every nested block that has a progress bar gets the setting."""
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    pending = [running_blocks(pipe)]
    while pending:
        block = pending.pop()
        if block is None:
            continue
        if hasattr(block, "set_progress_bar_config"):
            block.set_progress_bar_config(disable=True)
        pending.extend((getattr(block, "sub_blocks", None) or {}).values())


def latent_output(pipe: Any) -> dict[str, str]:
    """Call kwargs that make ``pipe`` return its latents: ``output_type="latent"`` for a classic
    pipeline; ``output="latents"`` (the state's latents) for a modular one, whose decoders need not
    take "latent" (Wan's video decoder refuses it)."""
    return {"output": "latents"} if is_modular(pipe) else {"output_type": "latent"}


def generated(output: Any) -> Any:
    """What a pipeline call generated: ``.frames`` / ``.images`` of a classic pipeline's output, the
    ``videos`` / ``images`` / ... value of a modular pipeline's ``PipelineState`` (or of the dict or
    list a modular call returns when given ``output=``)."""
    for attribute in ("frames", "images"):
        if hasattr(output, attribute) and not callable(getattr(output, attribute)):
            return getattr(output, attribute)
    if isinstance(output, torch.Tensor):  # a modular call given output="latents" (or another tensor key)
        return output
    values = output.values if hasattr(output, "values") and isinstance(output.values, dict) else output
    if isinstance(values, dict):
        for key in _GENERATED_STATE_KEYS:
            if values.get(key) is not None:
                return values[key]
        raise ValueError(f"the pipeline's output holds none of {', '.join(_GENERATED_STATE_KEYS)}: {sorted(values)}")
    return output


__all__ = ["disable_progress_bars", "generated", "latent_output", "running_blocks", "is_modular", "pipeline_transformers", "unwrap_compiled"]
