"""What runs inside a patched transformer's forward: per-call context, per-layer routing, the backend
choice, the denoising step and typed outcomes."""

from .backend_choice import BackendChoice
from .context import CallContext, CallContexts
from .outcomes import FULL_WINDOW, SPARSE, Outcome, Ran
from .routing import LayerRoute, RouteState
from .steps import SchedulerStepReader, StepPosition, denoising_step, step_reader

__all__ = [
    "FULL_WINDOW", "SPARSE", "BackendChoice", "CallContext", "CallContexts", "LayerRoute", "Outcome", "Ran",
    "RouteState", "SchedulerStepReader", "StepPosition", "denoising_step", "step_reader",
]
