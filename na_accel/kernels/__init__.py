"""Attention backends: one module per backend, one registry (``registry``).

* ``reference`` — explicit-mask dense GNA, the judge (any device, small sizes);
* ``triton`` — na_accel's fused GNA kernel (CUDA GPUs; CPU under TRITON_INTERPRET=1);
* ``blackwell-fna``, ``hopper-fna``, ``cutlass-fna``, ``flex-fna`` — NATTEN's backends.

A new backend is a ``Backend`` subclass in its own module, added to ``registry.BACKENDS``.
"""

from .base import Backend, BackendTarget, DenseAttention, dtype_name, joint_slices, sdpa_attention
from .natten_fna import NATTEN_BACKENDS
from .reference import REFERENCE
from .registry import AUTO, BACKEND_NAMES, BACKENDS, auto_order, backend_reasons, check_backend_name, faster_unavailable, format_reasons, get_backend, resolve_backend, unavailable_reasons

__all__ = [
    "AUTO", "BACKEND_NAMES", "BACKENDS", "NATTEN_BACKENDS", "REFERENCE", "Backend", "BackendTarget",
    "DenseAttention", "auto_order", "backend_reasons", "check_backend_name", "dtype_name", "faster_unavailable",
    "format_reasons", "get_backend", "joint_slices", "resolve_backend", "sdpa_attention", "unavailable_reasons",
]
