"""What a model adapter provides: the attention layers to patch, the token layout, the processor."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from ..errors import Refusal
from .attention_call import AttentionCall, Route, SparseCall
from ..kernels.joint import gna_joint_attention
from ..kernels.ulysses import ulysses_joint_attention


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


class ModelAdapter(ABC):
    """Base class of the per-family adapters (one small module per family in na_accel.families)."""

    family: str  # recipe "model" value
    transformer_class_name: str
    pipeline_names: tuple[str, ...]  # documentation: pipelines this adapter serves

    @abstractmethod
    def handles(self, transformer: torch.nn.Module) -> bool:
        ...

    @abstractmethod
    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        """(qualified name, module) of every attention module GNA may replace."""
        ...

    @abstractmethod
    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        """None when the module's current processor can be replaced, else why not."""
        ...

    @abstractmethod
    def head_dim(self, transformer: torch.nn.Module) -> int:
        ...

    def heads(self, transformer: torch.nn.Module) -> int:
        """Attention heads of the transformer's self attention (the speed gate's cost model)."""
        return int(transformer.config.num_attention_heads)

    @abstractmethod
    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        """Read the token grid and text length from the transformer's forward inputs."""
        ...

    @abstractmethod
    def make_processor(self, original: Any, route: Route) -> GNAProcessor:
        """The GNA processor for one layer; ``route`` decides per call (na_accel.runtime.routing.LayerRoute)."""
        ...


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


def register_like_stock(gna_class: type, stock_class: type) -> None:
    """Let diffusers' hooks (skip-layer guidance) treat a GNA processor like the stock one.

    They look processors up by exact class in a private registry; if the registry is missing or
    doesn't know the stock class, those hooks just don't recognise patched layers: not an error.
    """
    try:
        from diffusers.hooks._helpers import AttentionProcessorRegistry

        metadata = AttentionProcessorRegistry.get(stock_class)
    except (ImportError, ValueError):
        return
    AttentionProcessorRegistry.register(gna_class, metadata)


def needs_grad(attn: torch.nn.Module, *inputs: torch.Tensor | None) -> bool:
    """Whether autograd will record this attention call (its inputs or weights require grad)."""
    if not torch.is_grad_enabled():
        return False
    return any(t is not None and t.requires_grad for t in inputs) or any(
        p.requires_grad for p in attn.parameters()
    )


class GNAProcessor:
    """Plumbing shared by the GNA processors of every family.

    Subclasses keep the stock processor's ``__call__`` parameters (``Attention.forward`` drops
    every keyword a processor doesn't name) and redo its projections, norms and RoPE exactly.
    Calls that can't run sparse go to ``original``, the stock processor (counted by ``route``).
    """

    def __init__(self, original: Any, route: Route) -> None:
        self.original = original
        self.route = route

    # set_attention_backend / context parallelism set these on processors: share them with the
    # original, which runs the dense calls.
    @property
    def _attention_backend(self):
        return getattr(self.original, "_attention_backend", None)

    @_attention_backend.setter
    def _attention_backend(self, value):
        self.original._attention_backend = value

    @property
    def _parallel_config(self):
        return getattr(self.original, "_parallel_config", None)

    @_parallel_config.setter
    def _parallel_config(self, value):
        self.original._parallel_config = value

    def _route_call(
        self, attn: torch.nn.Module, hidden_states: torch.Tensor, *inputs: torch.Tensor | None, seq_len: int,
        text_len: int | None = None, foreign_mask: bool = False, ulysses: bool = False,
        mask_text_lens: tuple[int, ...] | None = None,
    ) -> SparseCall | None:
        """Ask the route about this call: a SparseCall, or None to run ``original`` (counted).

        ``hidden_states`` (and the other ``inputs``) give the batch, device, dtype and whether
        autograd records the call; the rest is ``AttentionCall``'s. ``ulysses``: the processor runs
        its sparse calls through ``_joint_attention``, which shards them under Ulysses context
        parallelism; without it, context parallelism runs stock, counted.
        """
        return self.route.route(AttentionCall(
            seq_len=seq_len, batch=hidden_states.shape[0], device=hidden_states.device, dtype=hidden_states.dtype,
            needs_grad=needs_grad(attn, hidden_states, *inputs), text_len=text_len, foreign_mask=foreign_mask,
            mask_text_lens=mask_text_lens, parallel_config=self._parallel_config, ulysses=ulysses,
        ))

    @staticmethod
    def _padding_mask(mask: torch.Tensor | None, padding_shaped: bool,
                      read: Callable[[], tuple[int, ...] | None]) -> tuple[tuple[int, ...] | None, bool]:
        """(mask_text_lens, foreign_mask) of the mask a layer got, for ``_route_call``.

        A mask of the forward's padding-mask shape is understood: GNA cuts the padded text it marks.
        Eagerly it is read (``read``: its valid prefix per row, checked against the inputs'); under
        torch.compile that read (a device sync) would break the graph at every layer, so it is
        trusted unread there. Any other mask is foreign: the call runs stock, counted.
        """
        if mask is None or (padding_shaped and torch.compiler.is_compiling()):
            return None, False
        lens = read() if padding_shaped else None
        return lens, lens is None

    def _route_self_attention(
        self, attn: torch.nn.Module, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None,
        ulysses: bool = False,
    ) -> SparseCall | None:
        """The route's decision for self attention over the visual tokens alone (no text); under
        ``ulysses`` the family's cp plan splits the visual tokens into equal contiguous chunks."""
        return self._route_call(attn, hidden_states, seq_len=hidden_states.shape[1],
                                foreign_mask=attention_mask is not None, ulysses=ulysses)

    def _joint_attention(self, call: SparseCall, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         **kwargs: Any) -> torch.Tensor:
        """The route's sparse ``call`` over [B, S, heads, head_dim] q/k/v: this rank's shard under
        Ulysses context parallelism (``call.ulysses``), else the whole sequence."""
        kwargs = dict(text_len=call.text_len, text_first=call.text_first, window=call.window, backend=call.backend,
                      dense_attention=self._dense_attention, extra_windows=call.extra_windows,
                      text_valid_lens=call.text_valid_lens, **kwargs)
        if call.ulysses is not None:
            return ulysses_joint_attention(query, key, value, shards=call.ulysses, **kwargs)
        return gna_joint_attention(query, key, value, **kwargs)

    def _dense_attention(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Dense attention through the model's own attention backend (text rows, as stock)."""
        from diffusers.models.attention_dispatch import dispatch_attention_fn

        return dispatch_attention_fn(query, key, value, attn_mask=attention_mask, backend=self._attention_backend)
