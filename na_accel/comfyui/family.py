"""What a ComfyUI model family declares: ``ComfyFamily``, one object per family.

ComfyUI's models (``comfy/ldm/<model>/``) are not diffusers models: no processors, no
``dispatch_attention_fn``. Every attention they compute goes through ComfyUI's attention wrapper,
which calls ``transformer_options["optimized_attention_override"]`` when a node set one; that
override is na_accel's seam here (``na_accel.comfyui.attention``). A family says what the override
cannot see: which blocks are the attention layers (named as the family's diffusers layers, so one
recipe serves both front ends), which attention call of a block is its self attention, and where
the token grid(s) and text sit in that call's joint sequence, read from the diffusion model's
inputs. It never repeats ComfyUI's code: the blocks run as ComfyUI wrote them.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from ..families.base import TokenLayout


@dataclass(frozen=True)
class BlockStack:
    """One ``torch.nn.ModuleList`` of the diffusion model whose blocks each hold one self attention.

    ``attribute``: the list's attribute on the diffusion model ("double_blocks"); ``layer_name``: the
    diffusers name of block i's attention, ``{}`` standing for i ("transformer_blocks.{}.attn"), so
    that a recipe's layer rules (written for diffusers' names) pick the same layers here."""

    attribute: str
    layer_name: str


# (diffusion model, its ``_forward`` arguments by name) -> TokenLayout of the call's self attention
ComfyLayoutReader = Callable[[torch.nn.Module, dict[str, Any]], TokenLayout]


@dataclass(frozen=True)
class ComfyFamily:
    """One ComfyUI model family, declared.

    ``model_class``: "module:Class" of ComfyUI's diffusion model (``model.model.diffusion_model``),
    matched by exact class (a subclass may lay its tokens out differently). ``self_attention_call``:
    which attention call inside a block is its self attention (Wan's blocks call self attention,
    then cross attention); the others run stock, uncounted, as every attention of an unplanned
    block does. ``attention_shape``: (heads, head_dim) of the self attention.
    """

    name: str  # the recipe family (FamilySpec.name): one recipe for diffusers and ComfyUI
    model_class: str
    blocks: tuple[BlockStack, ...]
    token_layout: ComfyLayoutReader
    attention_shape: Callable[[torch.nn.Module], tuple[int, int]]
    self_attention_call: int = 0
    description: str = ""  # the models ComfyUI loads into this class (docs, errors)
    # which of the class's instances are this family's, where ComfyUI loads several models into one
    # class (HunyuanVideo's also runs HunyuanImage 2.1); None: all of them
    accepts: Callable[[torch.nn.Module], bool] | None = None

    def model_type(self) -> type | None:
        """ComfyUI's class, or None when the ComfyUI in use lacks it."""
        module, _, name = self.model_class.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return None

    def handles(self, diffusion_model: torch.nn.Module) -> bool:
        cls = type(diffusion_model)
        return (f"{cls.__module__}:{cls.__qualname__}" == self.model_class
                and (self.accepts is None or self.accepts(diffusion_model)))

    def layers(self, diffusion_model: torch.nn.Module) -> Iterator[tuple[str, str, torch.nn.Module]]:
        """(diffusers layer name, ComfyUI block name, block) of every attention layer, in order."""
        for stack in self.blocks:
            for i, block in enumerate(getattr(diffusion_model, stack.attribute, None) or ()):
                yield stack.layer_name.format(i), f"{stack.attribute}.{i}", block



_SIGNATURES: dict[type, inspect.Signature] = {}


def comfy_forward_arguments(model: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``model._forward``'s arguments by name, its ``**kwargs`` merged in (ComfyUI passes extra
    conditioning, e.g. FLUX's ``ref_latents_method``, through them)."""
    signature = _SIGNATURES.setdefault(type(model), inspect.signature(type(model)._forward))
    bound = signature.bind_partial(model, *args, **kwargs).arguments
    extra = next((bound.pop(name) for name, p in signature.parameters.items()
                  if p.kind is inspect.Parameter.VAR_KEYWORD and name in bound), {})
    return {**bound, **extra}


def patched_grid(size: tuple[int, ...], patch: tuple[int, ...]) -> tuple[int, ...]:
    """Tokens per axis of a latent of ``size`` cut into ``patch`` patches, padded up as ComfyUI's
    ``comfy.ldm.common_dit.pad_to_patch_size`` pads it."""
    return tuple(-(-n // p) for n, p in zip(size, patch))


__all__ = ["BlockStack", "ComfyFamily", "ComfyLayoutReader", "comfy_forward_arguments", "patched_grid"]
