"""What runs inside a patched transformer's forward: per-call context, per-layer routing, counts."""

from .context import CallContext, CallState
from .outcomes import FULL_WINDOW, SPARSE, Outcome, Ran
from .routing import LayerRoute, SparseCall

__all__ = ["CallContext", "CallState", "FULL_WINDOW", "SPARSE", "Outcome", "Ran", "LayerRoute", "SparseCall"]
