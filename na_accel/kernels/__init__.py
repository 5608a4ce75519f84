"""Attention backends: one module per backend, one registry (``registry``).

* ``reference`` — explicit-mask dense GNA, the judge (any device, small sizes);
* ``triton`` — na_accel's fused GNA kernel (CUDA GPUs; CPU under TRITON_INTERPRET=1);
* ``blackwell-fna``, ``hopper-fna``, ``cutlass-fna``, ``flex-fna`` — NATTEN's backends.

A new backend is a ``Backend`` subclass in its own module that implements ``unavailable_reason`` and
``visual_attention`` and declares its traits (``Backend.tiles``, its tile model: ``tile_model``;
``install_hint``; ...), added by ``registry.register_backend`` (which also states its rank for
``auto``). Nothing outside a backend's module tells backends apart by name. Every backend takes one
``GNACall`` (``call``): the joint sequence's layout and windows.
"""

from ..lazy import lazy_exports

AUTO = "auto"  # the backend name that picks one per device (registry.auto_order); light: the CLI's parser reads it

# Imported on first use: the backends import torch where they compute, and NATTEN / Triton.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".base": ["Backend", "BackendTarget", "DenseAttention", "dtype_name", "sdpa_attention"],
    ".call": ["GNACall"],
    ".natten_fna": ["NATTEN_BACKENDS"],
    ".reference": ["REFERENCE"],
    ".registry": ["BACKEND_NAMES", "BACKENDS", "auto_order", "backend_reasons", "check_backend_name",
                  "faster_unavailable", "format_reasons", "get_backend", "needs_probes", "register_backend",
                  "resolve_backend", "unavailable_reasons"],
    ".tile_model": ["TileModel", "TileShape"],
}, eager=["AUTO"])
