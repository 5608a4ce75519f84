"""What the attention seam asks for one routed attention call (``na_accel.runtime.seam``).

``sparse_call`` reads the call a stock processor made (``dispatch_attention_fn``'s arguments, or
``F.scaled_dot_product_attention``'s turned to [B, S, heads, D]) together with the processor's own
arguments, describes it as an ``AttentionCall`` and returns the layer route's answer; what rules
GNA out at the call itself (cross attention, dropout, a causal flag, another scale, a mask GNA
can't read) is counted there. ``run_sparse`` runs a sparse answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..families.attention_call import AttentionCall, SparseCall
from ..families.base import ModelAdapter
from ..kernels.joint import gna_joint_attention
from ..kernels.ulysses import ulysses_joint_attention

if TYPE_CHECKING:
    from .routing import LayerRoute

# dispatch_attention_fn's parameters after (query, key, value), in order (diffusers 0.36-0.42);
# F.scaled_dot_product_attention's are a prefix of them
DISPATCH_OPTIONS = ("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa", "attention_kwargs")


@dataclass
class LayerSeam:
    """One routed layer: its route, its family's declaration and the stock processor it replaced."""

    route: LayerRoute
    adapter: ModelAdapter
    stock: Any  # the stock processor object, put back by ``uninstall``
    mask_position: int | None = None  # index in the processor's positional args of the padding-mask argument


def run_sparse(sparse: SparseCall, query, key, value, dense_attention: Callable, text_rows_mask: Any):
    """GNA for a routed call ([B, S, heads, D]): under Ulysses this rank's shard, else the whole sequence."""
    if sparse.ulysses is not None:
        return ulysses_joint_attention(query, key, value, sparse.call, shards=sparse.ulysses,
                                       backend=sparse.backend, dense_attention=dense_attention,
                                       attention_mask=text_rows_mask)
    return gna_joint_attention(query, key, value, sparse.call, backend=sparse.backend,
                               dense_attention=dense_attention, attention_mask=text_rows_mask)


def sparse_call(layer: LayerSeam, query, key, value, args: tuple, kwargs: dict, processor_args: tuple,
                processor_kwargs: dict) -> tuple[SparseCall | None, Any]:
    """The route's answer for one routed attention call on [B, S, heads, D] (None: run it stock,
    counted), and the stock mask's text-query rows (the dense text rows' mask)."""
    route = layer.route
    options = dict(zip(DISPATCH_OPTIONS, args), **kwargs)
    unknown = set(options) - {*DISPATCH_OPTIONS, "backend", "parallel_config"}
    if len(args) > len(DISPATCH_OPTIONS) or unknown:
        return route.refuse(f"the attention call got arguments the seam does not know: {sorted(unknown)} "
                            f"({len(args)} positional after query, key, value)"), None
    if not (query.ndim == 4 and key.shape == query.shape and value.shape == query.shape):
        return route.refuse("keys / values are not the queries' own tokens and heads (cross attention or grouped "
                            "heads): GNA routes self attention only"), None
    if reason := _option_refusal(options, query.shape[-1]):
        return route.refuse(reason), None
    if reason := _function_mode_refusal():
        return route.refuse(reason), None
    mask = options.get("attn_mask")
    context = route.state.contexts.current
    foreign, mask_text_lens = False, None
    if mask is not None:
        padding = layer.adapter.padding_mask
        source = _padding_mask_argument(layer, processor_args, processor_kwargs)
        if padding is None or not isinstance(source, torch.Tensor) or context is None:
            foreign = True
        else:
            mask_text_lens, foreign = _read_padding(layer.adapter, source, context.layout, query.shape[0])
        if not foreign and not _is_key_mask(mask, query):
            foreign = True
    elif context is not None and layer.adapter.padding_mask is not None and context.layout.grid is not None:
        mask_text_lens = (context.layout.text_len,) * query.shape[0]  # no mask: every text token is a key
    call = AttentionCall(
        seq_len=query.shape[1], batch=query.shape[0], device=query.device, dtype=query.dtype,
        needs_grad=torch.is_grad_enabled() and (query.requires_grad or key.requires_grad or value.requires_grad),
        foreign_mask=foreign, mask_text_lens=mask_text_lens, parallel_config=options.get("parallel_config"),
        ulysses=layer.adapter.ulysses,
    )
    sparse = route.route(call)
    if sparse is None or mask is None:
        return sparse, None
    return sparse, _text_rows(mask, sparse)


def _function_mode_refusal() -> str | None:
    """Why a torch function mode in force rules GNA out, or None. diffusers' skip-layer guidance
    (``skip_attention_scores``: PAG, SLG) replaces F.scaled_dot_product_attention by its value input
    through one; GNA's kernels never call that function, so the layer must run stock. torch's own
    device context (``with torch.device(...)``) is harmless. Not checked under torch.compile."""
    if torch.compiler.is_compiling() or not torch._C._is_torch_function_mode_enabled():
        return None
    from torch.overrides import _get_current_function_mode_stack
    from torch.utils._device import DeviceContext

    modes = [type(mode).__name__ for mode in _get_current_function_mode_stack() if not isinstance(mode, DeviceContext)]
    if not modes:
        return None
    return (f"a torch function mode is in force ({', '.join(modes)}: e.g. diffusers' attention-score skipping), "
            "which may replace the attention itself: stock")


def _option_refusal(options: dict, head_dim: int) -> str | None:
    """Why the dispatch options rule GNA out (it computes softmax(q k^T / sqrt(d)) v, no dropout), or None."""
    if options.get("dropout_p"):
        return f"dropout_p={options['dropout_p']} (GNA has no attention dropout)"
    if options.get("is_causal"):
        return "is_causal=True (a causal mask over the joint sequence is not a GNA window)"
    scale = options.get("scale")
    if scale is not None and not math.isclose(float(scale), head_dim ** -0.5, rel_tol=1e-6):
        return f"scale={scale} (GNA's kernels use 1/sqrt(head_dim) = {head_dim ** -0.5:.6g})"
    if options.get("attention_kwargs"):
        return f"attention_kwargs {sorted(options['attention_kwargs'])} (backend-specific options GNA can't honour)"
    return None


def _padding_mask_argument(layer: LayerSeam, args: tuple, kwargs: dict) -> Any:
    argument = layer.adapter.padding_mask.argument if layer.adapter.padding_mask is not None else None
    if argument in kwargs:
        return kwargs[argument]
    position = layer.mask_position
    return args[position] if position is not None and position < len(args) else None


def _read_padding(adapter: ModelAdapter, source: torch.Tensor, layout: Any, batch: int
                  ) -> tuple[tuple[int, ...] | None, bool]:
    """(valid text lengths, foreign) of the family's padding-mask argument.

    Eagerly it is read (once per tensor: the forward hands every layer the same one) and checked
    against the inputs'; under torch.compile that read (a device sync) would break the graph at
    every layer, so a mask of the right shape is trusted unread there, as is, always, a form built
    anew in every block (``PaddingMask.reads_each_call``: a read would be a sync per layer).
    """
    padding = adapter.padding_mask
    if layout.grid is None or not padding.matches(source, layout, batch):
        return None, True
    if torch.compiler.is_compiling() or not padding.reads_each_call:
        return None, False
    lens = adapter.mask_reader(source, layout, batch)
    return lens, lens is None


def _is_key_mask(mask: Any, query: torch.Tensor) -> bool:
    """A (batch, 1, 1 or queries, keys) mask: what the stock processors derive from a padding mask."""
    batch, tokens = query.shape[:2]
    return (isinstance(mask, torch.Tensor) and mask.ndim == 4 and mask.shape[0] in (1, batch)
            and mask.shape[1] == 1 and mask.shape[2] in (1, tokens) and mask.shape[3] == tokens)


def _text_rows(mask: torch.Tensor, sparse: SparseCall) -> torch.Tensor:
    """The stock mask's rows of the text queries (the dense text rows run with them)."""
    if mask.shape[2] == 1:
        return mask
    return mask[:, :, sparse.call.text_slice]


__all__ = ["DISPATCH_OPTIONS", "LayerSeam", "run_sparse", "sparse_call"]
