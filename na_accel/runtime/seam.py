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
import math
import sys
import threading
import types
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..families.attention_call import AttentionCall, SparseCall
from ..families.base import ModelAdapter
from ..kernels.joint import gna_joint_attention
from ..kernels.ulysses import ulysses_joint_attention

SEAM_ATTRIBUTE = "_na_accel_layer"  # the LayerSeam on a routed processor instance
DISPATCH = "dispatch_attention_fn"
# dispatch_attention_fn's parameters after (query, key, value), in order (diffusers 0.36-0.42)
_DISPATCH_OPTIONS = ("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa", "attention_kwargs")


@dataclass
class LayerSeam:
    """One routed layer: its route, its family's declaration and the stock processor it replaced."""

    route: Any  # runtime.routing.LayerRoute (or a tuning observer's view of it)
    adapter: ModelAdapter
    stock: Any  # the stock processor object, put back by ``uninstall``
    mask_position: int | None = None  # index in the processor's positional args of the padding-mask argument


class _CallingLayer(threading.local):
    """Per thread: [LayerSeam, processor args, processor kwargs, outer, attention calls routed] of
    the routed processor call running."""

    current: tuple | None = None


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
    """None when ``stock_class.__call__`` calls ``dispatch_attention_fn`` (what the seam routes)."""
    call = getattr(stock_class, "__call__", None)
    code = getattr(call, "__code__", None)
    if code is None or DISPATCH not in code.co_names or not callable(call.__globals__.get(DISPATCH)):
        return (f"processor {stock_class.__name__} does not call {DISPATCH} (the attention call GNA routes); "
                "it keeps running as it is")
    return None


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
            calling[0].route.refuse(f"{type(self).__name__[3:]} computed its attention without {DISPATCH} "
                                    "(a helper of its module): stock")
        return output

    __call__.__signature__ = inspect.signature(stock_call)
    cls = type(f"GNA{stock_class.__name__}", (RoutedProcessor, stock_class), {
        "__call__": __call__, "__module__": __name__,
        "__doc__": f"{stock_class.__name__}, unchanged, with its attention call routed by na_accel (runtime/seam.py).",
    })
    _register_like_stock(cls, stock_class)
    return cls


def _routed_module(stock_call: Callable) -> types.ModuleType:
    """The copy of ``stock_call``'s module globals whose ``dispatch_attention_fn`` is routed."""
    stock_globals = stock_call.__globals__
    stock_name = stock_globals["__name__"]
    name = f"na_accel._routed.{stock_name}"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__dict__.update({k: v for k, v in stock_globals.items()
                                if k not in ("__name__", "__spec__", "__loader__")})
        module.__dict__[DISPATCH] = _routed_dispatch(sys.modules[stock_name])
        sys.modules[name] = module
    return module


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


def _routed_dispatch(stock_module: types.ModuleType) -> Callable:
    """``dispatch_attention_fn`` for the routed copies of ``stock_module``'s processors."""

    def dispatch_attention_fn(query, key, value, *args, **kwargs):
        stock = stock_module.dispatch_attention_fn  # looked up per call: whatever the module has now
        calling = _CALLING.current
        if calling is None:  # not through a routed __call__ (cannot happen from the stock body)
            return stock(query, key, value, *args, **kwargs)
        layer, processor_args, processor_kwargs = calling[:3]
        calling[4] += 1
        sparse, text_rows_mask = _sparse_call(layer, query, key, value, args, kwargs, processor_args,
                                              processor_kwargs)
        if sparse is None:
            return stock(query, key, value, *args, **kwargs)
        backend = kwargs.get("backend")

        def dense_attention(q, k, v, mask=None):  # the text rows: the stock dispatch, the user's backend
            return stock(q, k, v, attn_mask=mask, backend=backend)

        if sparse.ulysses is not None:
            return ulysses_joint_attention(query, key, value, sparse.call, shards=sparse.ulysses,
                                           backend=sparse.backend, dense_attention=dense_attention,
                                           attention_mask=text_rows_mask)
        return gna_joint_attention(query, key, value, sparse.call, backend=sparse.backend,
                                   dense_attention=dense_attention, attention_mask=text_rows_mask)

    return dispatch_attention_fn


def _sparse_call(layer: LayerSeam, query, key, value, args: tuple, kwargs: dict, processor_args: tuple,
                 processor_kwargs: dict) -> tuple[SparseCall | None, Any]:
    """The route's answer for one dispatch call (None: run it stock, counted), and the stock mask's
    text-query rows (the dense text rows' mask)."""
    route = layer.route
    options = dict(zip(_DISPATCH_OPTIONS, args), **kwargs)
    if len(args) > len(_DISPATCH_OPTIONS) or set(options) - {*_DISPATCH_OPTIONS, "backend", "parallel_config"}:
        return route.refuse(f"{DISPATCH} called with arguments the seam does not know: "
                           f"{sorted(set(options) - set(_DISPATCH_OPTIONS))}"), None
    if not (query.ndim == 4 and key.shape == query.shape and value.shape == query.shape):
        return route.refuse("keys / values are not the queries' own tokens and heads (cross attention or grouped "
                            "heads): GNA routes self attention only"), None
    if reason := _option_refusal(options, query.shape[-1]):
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
    every layer, so a mask of the right shape is trusted unread there.
    """
    padding = adapter.padding_mask
    if layout.grid is None or not padding.matches_shape(source, layout, batch):
        return None, True
    if torch.compiler.is_compiling():
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


__all__ = ["LayerSeam", "RoutedProcessor", "SEAM_ATTRIBUTE", "install", "routed_class", "stock_of",
           "unroutable_reason"]
