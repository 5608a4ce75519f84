"""What a model family declares: ``ModelAdapter``, one object per family, built from fields.

A family says which attention modules GNA may route (module names, stock processor classes), where
its token grid(s) and text sit in the joint sequence (``token_layout``: read from the transformer's
forward inputs), which processor argument carries a text padding mask (``PaddingMask``) and whether
its sequence shards split the way the Ulysses path expects. It never repeats a processor's
projections, norms or RoPE: the stock processor runs unchanged and only its attention call is
routed (``na_accel.runtime.seam``).
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from ..errors import Refusal
from .read_cache import TensorReadCache
from .text_mask import prefix_lengths
from .family_types import FamilySpec


@dataclass(frozen=True)
class TokenLayout:
    """Where the visual tokens sit in one forward call, read from the transformer's inputs.

    ``grid`` is None when the visual tokens don't form a known row-major grid; ``problem`` then
    says why, and every GNA layer of that call runs dense (counted). ``extra_grids`` are the grids
    of reference images (FLUX.1 Kontext, FLUX.2, Qwen-Image-Edit) whose tokens follow ``grid``'s,
    in token order; text comes before or after all visual tokens.
    """

    grid: tuple[int, ...] | None
    text_len: int
    text_first: bool
    problem: str | None = None
    # Per batch row, how many leading text tokens are real (the rest is padding); None: all are.
    text_valid_lens: tuple[int, ...] | None = None
    extra_grids: tuple[tuple[int, ...], ...] = ()

    @property
    def visual_len(self) -> int:
        """Visual tokens in the joint sequence (every grid's)."""
        return sum(math.prod(g) for g in (self.grid, *self.extra_grids)) if self.grid is not None else 0


@dataclass(frozen=True)
class PaddingMask:
    """The processor argument that carries a family's text padding mask, and its form.

    The stock processor derives its attention mask from it; GNA cuts the padded text keys it marks
    (NATTEN's extra keys take no mask) and hands the stock attention mask to the text rows.

    * ``"text"``: (batch, text tokens), nonzero = valid (HunyuanVideo 1.5; Qwen-Image with
      ``bool_only``: a float mask there is additive, not a padding mask);
    * ``"joint_keys"``: (batch, 1, 1, visual + text) bool over the keys, the visual ones all valid
      (HunyuanVideo);
    * ``"pairs"``: (batch, 1, S, S) bool, S = visual + text, ``m[:, None, None, :] & m[:, None, :, None]``
      of a (batch, S) joint key mask ``m`` (Chroma). Each block builds it anew from the forward's mask,
      so it is never read (a read per layer is a device sync per layer, ``reads_each_call``): it is
      matched by shape and dtype, as every form is under torch.compile, and the valid text lengths
      are the layout's, read once from the forward's mask.
    Each row's valid text must be a prefix (right padding); any other pattern runs stock, counted.
    """

    argument: str
    form: str  # "text" | "joint_keys" | "pairs"
    bool_only: bool = False

    @property
    def reads_each_call(self) -> bool:
        """Whether the seam reads the argument eagerly (once per tensor); False: trusted by its shape."""
        return self.form != "pairs"

    def text_lens(self, mask: torch.Tensor, layout: TokenLayout, batch: int) -> tuple[int, ...] | None:
        """Per row, the valid text length ``mask`` encodes, or None if it is not this form's
        right-padding mask for ``layout`` (one device read)."""
        if not self.matches(mask, layout, batch):
            return None
        if self.form == "text":
            return prefix_lengths(mask.bool())
        keys = mask[:, 0].diagonal(dim1=-2, dim2=-1) if self.form == "pairs" else mask[:, 0, 0]
        visual = slice(layout.text_len, None) if layout.text_first else slice(0, layout.visual_len)
        text = slice(0, layout.text_len) if layout.text_first else slice(layout.visual_len, None)
        return prefix_lengths(keys[:, text], also=keys[:, visual])

    def matches(self, mask: torch.Tensor, layout: TokenLayout, batch: int) -> bool:
        """Whether ``mask`` has this form's shape and dtype (all that is checked, unread, under torch.compile)."""
        if self.form == "text":
            return tuple(mask.shape) == (batch, layout.text_len) and (mask.dtype == torch.bool or not self.bool_only)
        tokens = layout.visual_len + layout.text_len
        if self.form == "pairs":
            return tuple(mask.shape) == (batch, 1, tokens, tokens) and mask.dtype == torch.bool
        return tuple(mask.shape) == (batch, 1, 1, layout.visual_len + layout.text_len) and mask.dtype == torch.bool


# (transformer, forward arguments by name) -> TokenLayout. A class whose instances may keep caches
# (device reads once per tensor): one instance per adapter, so per patch.
LayoutReader = Callable[[torch.nn.Module, dict[str, Any]], TokenLayout]


class ModelAdapter:
    """One family, declared: the modules GNA routes, the token layout, the padding mask.

    ``spec``: the family's ``FamilySpec``, which states its name and its attention modules once
    (``layer_pattern``: full match of the qualified module name). ``processors``: the stock processor
    classes whose attention call GNA may route (exact class: IP-Adapter and custom processors keep
    running as they are). ``ulysses``: under diffusers' Ulysses context parallelism
    each rank holds equal chunks of the text and of the visual tokens (the family's cp plan), which
    ``na_accel.kernels.ulysses`` reassembles; without it, context-parallel calls run stock, counted.
    """

    def __init__(
        self,
        spec: FamilySpec,
        *,
        transformer_class: type,
        pipeline_names: tuple[str, ...],
        processors: tuple[type, ...],
        token_layout: Callable[[], LayoutReader],
        padding_mask: PaddingMask | None = None,
        ulysses: bool = False,
        exact_class: bool = True,
    ) -> None:
        self.spec = spec
        self.family = spec.name
        self.transformer_class = transformer_class
        self.transformer_class_name = transformer_class.__name__
        self.pipeline_names = pipeline_names
        self.processors = processors
        self.layer_pattern = re.compile(spec.layer_pattern)
        self.padding_mask = padding_mask
        self.ulysses = ulysses
        self.exact_class = exact_class  # subclasses (FramePack, VACE, ...) may lay their tokens out differently
        self._layout = token_layout()
        # The padding mask a forward hands every layer is one tensor: read (a device sync) once.
        self.mask_reader = TensorReadCache(self._read_mask)

    def handles(self, transformer: torch.nn.Module) -> bool:
        if self.exact_class:
            return type(transformer) is self.transformer_class
        return isinstance(transformer, self.transformer_class)

    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        """(qualified name, module) of every attention module GNA may route."""
        for name, module in transformer.named_modules():
            if self.layer_pattern.fullmatch(name):
                yield name, module

    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        """None when the module's processor is one of the family's stock classes, else why not."""
        processor = getattr(module, "processor", None)
        if type(processor) in self.processors:
            return None
        return (f"processor {type(processor).__name__} is not supported (GNA routes "
                f"{', '.join(cls.__name__ for cls in self.processors)} only; custom processors keep running as they are)")

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.attention_head_dim)

    def heads(self, transformer: torch.nn.Module) -> int:
        """Attention heads of the transformer's self attention (the speed gate's cost model)."""
        return int(transformer.config.num_attention_heads)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        """The token grid(s) and text of one forward call, from its inputs."""
        return self._layout(transformer, forward_arguments(transformer, args, kwargs))

    def _read_mask(self, mask: torch.Tensor, layout: TokenLayout, batch: int) -> tuple[int, ...] | None:
        return self.padding_mask.text_lens(mask, layout, batch)


_FORWARD_SIGNATURES: dict[type, inspect.Signature] = {}


def forward_arguments(module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A forward call's arguments by name (pipelines pass keywords; positional calls work too)."""
    if not args:
        return kwargs
    signature = _FORWARD_SIGNATURES.setdefault(type(module), inspect.signature(type(module).forward))
    return dict(signature.bind_partial(module, *args, **kwargs).arguments)


def video_token_grid(hidden_states: Any, patch_size: tuple[int, int, int]) -> tuple[int, int, int] | Refusal:
    """Token grid of a video transformer's (B, C, F, H, W) input, or why there is none."""
    if not isinstance(hidden_states, torch.Tensor) or hidden_states.ndim != 5:
        shape = tuple(hidden_states.shape) if isinstance(hidden_states, torch.Tensor) else type(hidden_states).__name__
        return Refusal(f"hidden_states {shape} is not a (batch, channels, frames, height, width) video latent")
    sizes = hidden_states.shape[2:]
    if any(n % p for n, p in zip(sizes, patch_size)):
        return Refusal(f"latent (frames, height, width) {tuple(sizes)} is not a multiple of the patch size {patch_size}")
    return tuple(n // p for n, p in zip(sizes, patch_size))


class VideoSelfAttentionLayout:
    """Self attention over the video tokens alone (Wan, Cosmos): the (B, C, F, H, W) latent divided
    by the transformer's (frames, height, width) patch size; no text in the sequence."""

    def __init__(self, patch_size: Callable[[Any], tuple[int, int, int]]) -> None:
        self.patch_size = patch_size

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        grid = video_token_grid(inputs.get("hidden_states"), self.patch_size(transformer.config))
        if isinstance(grid, Refusal):
            return TokenLayout(None, 0, False, grid)
        return TokenLayout(grid, 0, False)


def config_patch_size(config: Any) -> tuple[int, int, int]:
    """(frames, height, width) patch size from a config's ``patch_size`` triple (Wan, Cosmos)."""
    return tuple(int(p) for p in config.patch_size)


__all__ = ["LayoutReader", "ModelAdapter", "PaddingMask", "TokenLayout", "VideoSelfAttentionLayout",
           "config_patch_size", "forward_arguments", "video_token_grid"]
