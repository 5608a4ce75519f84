"""The attention seam: a patched layer runs its STOCK processor; only its attention call is routed.

Every DiT processor in diffusers ends in one call, ``dispatch_attention_fn(query, key, value,
attn_mask=..., backend=self._attention_backend, parallel_config=self._parallel_config)``, on
[batch, tokens, heads, head_dim] tensors after its projections, norms and RoPE. Its module imports
that function as a global, so the function's globals decide which one it calls. For each stock
processor class, na_accel makes ONE routed subclass (shared by every layer and every patch):

* its ``__call__`` body is the stock ``__call__``'s own code object, rebuilt over a copy of its
  module's globals in which ``dispatch_attention_fn`` is ``routed dispatch`` (the copy is a real
  module in ``sys.modules``, ``na_accel._routed.<stock module>``, so dynamo sources those globals
  from it when it traces the body);
* a thin ``__call__`` with the stock signature (``Attention.forward`` filters keyword arguments by
  it) notes which layer is calling, per thread, and runs that body.

The routed dispatch asks the layer's route (``routing.LayerRoute``) about the call; the answer is
a ``SparseCall`` (GNA; the text rows still go through the stock dispatch with the user's backend)
or None: then the stock ``dispatch_attention_fn`` runs with the very arguments it was given, the
user's ``set_attention_backend`` choice and ``parallel_config`` included (full window == stock).

Why this and not the alternatives (docs/architecture.md, "The seam"): a per-layer class or
per-layer function would make dynamo guard on its identity and recompile each block of a model it
compiles block by block (HunyuanVideo 1.5); a proxy object around the processor fails in dynamo's
guards; diffusers' backend registry is a closed enum with no layer, grid or step. The shared class
keeps per-layer facts in instance data (``LayerSeam``), which dynamo reads without recompiling.
Unpatched modules, other processors and other calls never see any of it.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import types
from typing import Any, Callable

import torch

from ..families.base import ModelAdapter
from .seam_call import LayerSeam, run_sparse, sparse_call

SEAM_ATTRIBUTE = "_na_accel_layer"  # the LayerSeam on a routed processor instance
DISPATCH = "dispatch_attention_fn"
SDPA = "scaled_dot_product_attention"


class _CallingLayer(threading.local):
    """Per thread: [LayerSeam, processor args, processor kwargs, outer, attention calls routed] of
    the routed processor call running."""

    current: list | None = None


_CALLING = _CallingLayer()


# --------------------------------------------------------------------------------------------
# The routed classes: one per stock processor class
# --------------------------------------------------------------------------------------------


class RoutedProcessor:
    """Base of every routed processor class (``isinstance`` finds what na_accel installed)."""

    def __reduce_ex__(self, protocol: int) -> tuple:  # copies (deepcopy, pickle) rebuild the class by its stock one
        stock_class = next(c for c in type(self).__mro__[1:] if not issubclass(c, RoutedProcessor))
        return _rebuild, (stock_class, dict(self.__dict__))


def _rebuild(stock_class: type, state: dict) -> Any:
    cls = routed_class(stock_class)
    processor = cls.__new__(cls)
    processor.__dict__.update(state)
    return processor


_ROUTED: dict[type, type] = {}
_ROUTED_LOCK = threading.Lock()


def unroutable_reason(stock_class: type) -> str | None:
    """None when ``stock_class.__call__`` calls ``dispatch_attention_fn`` or, through its module's
    ``F`` (torch.nn.functional), ``F.scaled_dot_product_attention``: the calls the seam routes."""
    call = getattr(stock_class, "__call__", None)
    code = getattr(call, "__code__", None)
    names = code.co_names if code is not None else ()
    if DISPATCH in names and callable(call.__globals__.get(DISPATCH)):
        return None
    if SDPA in names and call.__globals__.get("F") is torch.nn.functional:
        return None
    return (f"processor {stock_class.__name__} calls neither {DISPATCH} nor F.{SDPA} (the attention calls GNA "
            "routes); it keeps running as it is")


def routed_class(stock_class: type) -> type:
    """The routed subclass of ``stock_class`` (made once per process)."""
    with _ROUTED_LOCK:
        cls = _ROUTED.get(stock_class)
        if cls is None:
            cls = _ROUTED[stock_class] = _make_routed_class(stock_class)
        return cls


def _make_routed_class(stock_class: type) -> type:
    stock_call = stock_class.__call__
    body = types.FunctionType(stock_call.__code__, _routed_module(stock_call).__dict__, stock_call.__name__,
                              stock_call.__defaults__, stock_call.__closure__)
    body.__kwdefaults__ = stock_call.__kwdefaults__

    @functools.wraps(stock_call)
    def __call__(self, *args, **kwargs):
        calling = _CALLING.current = [getattr(self, SEAM_ATTRIBUTE), args, kwargs, _CALLING.current, 0]
        try:
            output = body(self, *args, **kwargs)
        finally:
            _CALLING.current = calling[3]
        if not calling[4]:  # it attended through a helper of its module (FLUX.2 Klein-KV's cache modes)
            calling[0].route.refuse(f"{type(self).__name__[3:]} computed its attention without a routed call "
                                    f"({DISPATCH} through a helper of its module): stock")
        return output

    __call__.__signature__ = inspect.signature(stock_call)
    cls = type(f"GNA{stock_class.__name__}", (RoutedProcessor, stock_class), {
        "__call__": __call__, "__module__": __name__,
        "__doc__": f"{stock_class.__name__}, unchanged, with its attention call routed by na_accel (runtime/seam.py).",
    })
    _register_like_stock(cls, stock_class)
    return cls


def _routed_module(stock_call: Callable) -> types.ModuleType:
    """The copy of ``stock_call``'s module globals whose ``dispatch_attention_fn`` and
    ``F.scaled_dot_product_attention`` are routed."""
    stock_globals = stock_call.__globals__
    stock_name = stock_globals["__name__"]
    name = f"na_accel._routed.{stock_name}"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__dict__.update({k: v for k, v in stock_globals.items()
                                if k not in ("__name__", "__spec__", "__loader__")})
        if DISPATCH in stock_globals:
            module.__dict__[DISPATCH] = _routed_dispatch(sys.modules[stock_name])
        if stock_globals.get("F") is torch.nn.functional:
            module.__dict__["F"] = _routed_functional()
        sys.modules[name] = module
    return module


def _routed_functional() -> types.ModuleType:
    """torch.nn.functional for the routed copies, its ``scaled_dot_product_attention`` routed (the
    processors that attend with it directly, [B, heads, S, D]: Cosmos before diffusers 0.37)."""
    name = "na_accel._routed.torch.nn.functional"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__dict__.update({k: v for k, v in vars(torch.nn.functional).items()
                                if k not in ("__name__", "__spec__", "__loader__")})
        module.__dict__[SDPA] = _routed_sdpa
        sys.modules[name] = module
    return module


def _routed_sdpa(query, key, value, *args, **kwargs):
    """``F.scaled_dot_product_attention`` for the routed copies: the same route as the dispatch, on
    the [B, heads, S, D] layout; otherwise torch's own, with the very arguments it was given."""
    stock = torch.nn.functional.scaled_dot_product_attention
    q, k, v = (x.transpose(1, 2) if x.ndim == 4 else x for x in (query, key, value))  # the seam's [B, S, heads, D]
    sparse, text_rows_mask = _ask_route(q, k, v, args, kwargs)
    if sparse is None:
        return stock(query, key, value, *args, **kwargs)

    def dense_attention(q, k, v, mask=None):  # the text rows: torch's SDPA, as the stock processor
        return stock(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask).transpose(1, 2)

    return run_sparse(sparse, q, k, v, dense_attention, text_rows_mask).transpose(1, 2)


def _register_like_stock(routed: type, stock_class: type) -> None:
    """Let diffusers' hooks (skip-layer guidance) treat a routed processor like the stock one.

    They look processors up by exact class in a private registry; if the registry is missing or
    doesn't know the stock class, those hooks just don't recognise patched layers: not an error.
    """
    try:
        from diffusers.hooks._helpers import AttentionProcessorRegistry

        metadata = AttentionProcessorRegistry.get(stock_class)
    except (ImportError, ValueError):
        return
    AttentionProcessorRegistry.register(routed, metadata)


# --------------------------------------------------------------------------------------------
# Installing and removing
# --------------------------------------------------------------------------------------------


def install(module: torch.nn.Module, route: Any, adapter: ModelAdapter) -> None:
    """Route the attention call of ``module``'s processor (a stock class of ``adapter``)."""
    stock = module.processor
    cls = routed_class(type(stock))
    processor = cls.__new__(cls)
    processor.__dict__.update(stock.__dict__)
    setattr(processor, SEAM_ATTRIBUTE, LayerSeam(route, adapter, stock, _mask_position(type(stock), adapter)))
    module.set_processor(processor)


def stock_of(processor: Any) -> Any:
    """The stock processor a routed one replaced (through nested routes), carrying what was set on
    the routed one since (``set_attention_backend``, context parallelism)."""
    while isinstance(processor, RoutedProcessor):
        state = {k: v for k, v in processor.__dict__.items() if k != SEAM_ATTRIBUTE}
        processor = getattr(processor, SEAM_ATTRIBUTE).stock
        processor.__dict__.update(state)
    return processor


def _mask_position(stock_class: type, adapter: ModelAdapter) -> int | None:
    if adapter.padding_mask is None:
        return None
    names = list(inspect.signature(stock_class.__call__).parameters)[1:]  # after self
    argument = adapter.padding_mask.argument
    return names.index(argument) if argument in names else None


# --------------------------------------------------------------------------------------------
# The routed dispatch
# --------------------------------------------------------------------------------------------


def _ask_route(query, key, value, args: tuple, kwargs: dict) -> tuple:
    """(SparseCall or None, the stock mask's text rows) for an attention call the routed body made
    ([B, S, heads, D]); (None, None) outside a routed processor call (not from a stock body)."""
    calling = _CALLING.current
    if calling is None:
        return None, None
    calling[4] += 1
    return sparse_call(calling[0], query, key, value, args, kwargs, calling[1], calling[2])


def _routed_dispatch(stock_module: types.ModuleType) -> Callable:
    """``dispatch_attention_fn`` for the routed copies of ``stock_module``'s processors."""

    def dispatch_attention_fn(query, key, value, *args, **kwargs):
        stock = stock_module.dispatch_attention_fn  # looked up per call: whatever the module has now
        sparse, text_rows_mask = _ask_route(query, key, value, args, kwargs)
        if sparse is None:
            return stock(query, key, value, *args, **kwargs)
        backend = kwargs.get("backend")

        def dense_attention(q, k, v, mask=None):  # the text rows: the stock dispatch, the user's backend
            return stock(q, k, v, attn_mask=mask, backend=backend)

        return run_sparse(sparse, query, key, value, dense_attention, text_rows_mask)

    return dispatch_attention_fn


__all__ = ["LayerSeam", "RoutedProcessor", "SEAM_ATTRIBUTE", "install", "routed_class", "stock_of",
           "unroutable_reason"]
