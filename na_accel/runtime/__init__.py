"""What runs inside a patched transformer's forward: per-call context, per-layer routing, counts."""

from .context import CallContext, CallState
from .routing import FULL_WINDOW, SPARSE, LayerRoute, SparseCall

__all__ = ["CallContext", "CallState", "FULL_WINDOW", "SPARSE", "LayerRoute", "SparseCall"]
