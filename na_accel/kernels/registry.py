"""The backend registry: every backend by name, ``auto``'s choice, and why the others can't run.

``auto`` on a CUDA GPU: blackwell-fna > hopper-fna > triton > cutlass-fna (NATTEN's fused kernels
where NATTEN's compiled library is installed, else na_accel's Triton kernel). It never picks
flex-fna on a GPU: uncompiled, it materializes the score matrix and runs out of memory at real
sizes (FLUX 2048²). On any other device ``auto`` is flex-fna, NATTEN's portable path.
"""

from __future__ import annotations

from ..errors import ArgumentError, BackendUnavailableError
from . import AUTO
from .base import Backend, BackendTarget
from .natten_fna import NATTEN_BACKENDS, NattenBackend
from .reference import REFERENCE, ReferenceBackend
from .triton_backend import TritonBackend

BACKENDS: dict[str, Backend] = {
    b.name: b for b in [ReferenceBackend(), TritonBackend(), *(NattenBackend(n) for n in NATTEN_BACKENDS)]
}
BACKEND_NAMES = (AUTO, *BACKENDS)
AUTO_ORDER_GPU = ("blackwell-fna", "hopper-fna", "triton", "cutlass-fna")
AUTO_ORDER_OTHER = ("flex-fna",)


def auto_order(target: BackendTarget) -> tuple[str, ...]:
    """The backends ``auto`` tries on ``target``, best first."""
    return AUTO_ORDER_GPU if target.device.type == "cuda" else AUTO_ORDER_OTHER


def get_backend(name: str) -> Backend:
    """The registered backend called ``name`` (not ``auto``)."""
    check_backend_name(name)
    if name == AUTO:
        raise ArgumentError("backend: 'auto' is resolved per device; call resolve_backend first")
    return BACKENDS[name]


def check_backend_name(name, field: str = "backend") -> None:
    if not isinstance(name, str) or name not in BACKEND_NAMES:
        raise ArgumentError(f"{field}: unknown backend {name!r}; allowed: {list(BACKEND_NAMES)}")


def backend_reasons(target: BackendTarget) -> dict[str, str | None]:
    """For every registered backend: None when it can run on ``target``, else why it can't."""
    return {name: backend.unavailable_reason(target) for name, backend in BACKENDS.items()}


def resolve_backend(requested: str, target: BackendTarget) -> Backend:
    """The backend that runs for ``requested`` (a name or ``auto``) on ``target``; raises if none can."""
    check_backend_name(requested)
    if requested == REFERENCE:  # runs anywhere: no probes needed
        return BACKENDS[requested]
    reasons = backend_reasons(target)
    if requested == AUTO:
        for name in auto_order(target):
            if reasons[name] is None:
                return BACKENDS[name]
    elif reasons[requested] is None:
        return BACKENDS[requested]
    raise BackendUnavailableError(
        f"backend: {requested!r} cannot run for {target.describe()}.\n"
        f"{format_reasons(reasons)}\n"
        + ("auto on a GPU tries " + " > ".join(AUTO_ORDER_GPU) + " and never the unfused flex-fna, which "
           "cannot hold real sizes there (ask for backend='flex-fna' by name for small inputs).\n"
           if requested == AUTO and target.device.type == "cuda" else "")
        + "'triton' runs on CUDA GPUs with Triton installed; NATTEN's fused kernels (hopper-fna, "
        "blackwell-fna, cutlass-fna) come with NATTEN's prebuilt CUDA wheels; 'reference' runs "
        "anywhere at small sizes."
    )


def unavailable_reasons(requested: str, target: BackendTarget) -> dict[str, str]:
    """Why ``requested`` (for ``auto``: each backend it tries) can't run on ``target``."""
    names = auto_order(target) if requested == AUTO else (requested,)
    return {name: BACKENDS[name].unavailable_reason(target) or "available" for name in names}


def faster_unavailable(resolved: str, target: BackendTarget) -> dict[str, str]:
    """Why each backend ``auto`` ranks above ``resolved`` on ``target`` did not run (for reports)."""
    order = auto_order(target)
    if resolved not in order:
        return {}
    ahead = order[: order.index(resolved)]
    return {name: BACKENDS[name].unavailable_reason(target) or "available" for name in ahead}


def format_reasons(reasons: dict[str, str | None]) -> str:
    return "Backends and why:\n" + "\n".join(
        f"  {name}: {'available' if reason is None else reason}" for name, reason in reasons.items()
    )
