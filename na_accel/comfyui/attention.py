"""The ComfyUI seam: ``transformer_options["optimized_attention_override"]`` of a patched model.

ComfyUI's attention wrapper (``comfy/ldm/modules/attention.py``, ``wrap_attn``) hands every
attention call of a model to the override of the model's ``transformer_options``, as
``override(func, q, k, v, heads, mask=..., skip_reshape=..., skip_output_reshape=...,
transformer_options=...)``, ``func`` being the attention function ComfyUI chose (PyTorch SDPA,
Sage, xformers, ...). Here a call made by the self attention of a planned block is described as an
``AttentionCall`` and asked to that layer's route (``na_accel.runtime.routing``), exactly as the
diffusers seam asks it; a sparse answer runs GNA (``run_sparse``, the text rows through ``func``),
anything else runs ``func`` with the very arguments it was given (counted by the route when the
call was one GNA was planned for). Calls of other blocks, and a block's other calls (cross
attention), run ``func`` untouched and uncounted.

An override another node set before na_accel is kept: it is called instead of ``func`` wherever
na_accel would call ``func`` (its own choice for the dense calls and the text rows).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..families.attention_call import AttentionCall
from ..runtime.seam_call import run_sparse

if TYPE_CHECKING:
    from .patch import ComfyPatch

# ComfyUI's attention functions' parameters, in order (comfy/ldm/modules/attention.py)
PARAMETERS = ("q", "k", "v", "heads", "mask", "attn_precision", "skip_reshape", "skip_output_reshape")
# keywords the wrapper adds, which change nothing in the math
PASSED_THROUGH = ("transformer_options", "_inside_attn_wrapper")
OVERRIDE_KEY = "optimized_attention_override"


class AttentionOverride:
    """The override one patched ComfyUI model sets; ``previous`` is the override it replaced."""

    def __init__(self, patch: ComfyPatch, previous: Callable | None = None) -> None:
        self.patch = patch
        self.previous = previous

    # ModelPatcher.clone() deep-copies model_options: a clone of a patched model is the same patch
    def __deepcopy__(self, memo: dict) -> "AttentionOverride":
        return self

    def __call__(self, func: Callable, *args: Any, **kwargs: Any) -> torch.Tensor:
        stock = func if self.previous is None else functools.partial(self.previous, func)
        route = self.patch.calling_route(self.patch.family.self_attention_call)
        if route is None:
            return stock(*args, **kwargs)
        if len(args) > len(PARAMETERS) or set(kwargs) - {*PARAMETERS, *PASSED_THROUGH}:
            unknown = sorted(set(kwargs) - {*PARAMETERS, *PASSED_THROUGH})
            route.refuse(f"the attention call got arguments the ComfyUI seam does not know: {unknown} "
                         f"({len(args)} positional)")
            return stock(*args, **kwargs)
        options = {**dict(zip(PARAMETERS, args)), **kwargs}
        try:
            q, k, v = (_tokens_heads(options[name], options) for name in "qkv")
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            route.refuse(f"the attention call's tensors are not laid out as ComfyUI's are: {exc}")
            return stock(*args, **kwargs)
        if not (k.shape == q.shape and v.shape == q.shape):
            route.refuse("keys / values are not the queries' own tokens and heads (cross attention): GNA routes "
                         "self attention only")
            return stock(*args, **kwargs)
        call = AttentionCall(
            seq_len=q.shape[1], batch=q.shape[0], device=q.device, dtype=q.dtype,
            needs_grad=torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)),
            foreign_mask=options.get("mask") is not None,
        )
        sparse = route.route(call)
        if sparse is None:
            return stock(*args, **kwargs)
        transformer_options = options.get("transformer_options")
        heads = options["heads"]

        def dense_attention(q, k, v, mask=None):  # the text rows: ComfyUI's own attention, [B, S, heads, D]
            out = stock(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), heads, mask=mask,
                        attn_precision=options.get("attn_precision"), skip_reshape=True, skip_output_reshape=True,
                        transformer_options=transformer_options)
            return out.transpose(1, 2)

        out = run_sparse(sparse, q, k, v, dense_attention, None)
        if options.get("skip_output_reshape"):
            return out.transpose(1, 2)  # [B, heads, S, D]
        return out.reshape(out.shape[0], out.shape[1], -1)  # [B, S, heads * D]


def _tokens_heads(tensor: Any, options: dict) -> torch.Tensor:
    """``tensor`` as [batch, tokens, heads, head_dim]: ComfyUI passes [B, heads, S, D] with
    ``skip_reshape``, else [B, S, heads * D]."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"got {type(tensor).__name__}, not a tensor")
    if options.get("skip_reshape"):
        if tensor.ndim != 4:
            raise ValueError(f"skip_reshape with a {tensor.ndim}-d tensor")
        return tensor.transpose(1, 2)
    heads = int(options["heads"])
    if tensor.ndim != 3 or tensor.shape[-1] % heads:
        raise ValueError(f"shape {tuple(tensor.shape)} is not (batch, tokens, {heads} heads x head_dim)")
    return tensor.unflatten(-1, (heads, tensor.shape[-1] // heads))


__all__ = ["AttentionOverride", "OVERRIDE_KEY"]
