"""The backend registry: every backend by name, ``auto``'s choice, and why the others can't run.

Each backend is added by ``register_backend``, which also says where ``auto`` may pick it: its rank
among the GPU backends (lower is tried first), and whether it is ``auto``'s pick on other devices.
So ``auto`` on a CUDA GPU: blackwell-fna > hopper-fna > triton > cutlass-fna (NATTEN's fused kernels
where NATTEN's compiled library is installed, else na_accel's Triton kernel). It never picks
flex-fna on a GPU: uncompiled, it materializes the score matrix and runs out of memory at real
sizes (FLUX 2048²). On any other device ``auto`` is flex-fna, NATTEN's portable path. ``reference``
runs only by name.

Everything else about a backend is on its object (``base.Backend``'s traits: its tile model, install
hint, whether it runs anywhere): registering the instance adds the backend everywhere. Importing
this module imports no torch (the backends import it where they compute).
"""

from __future__ import annotations

from ..errors import ArgumentError, BackendUnavailableError
from . import AUTO
from .base import Backend, BackendTarget
from .natten_fna import NattenBackend
from .reference import ReferenceBackend
from .triton_backend import TritonBackend

BACKENDS: dict[str, Backend] = {}
_GPU_RANKS: dict[str, int] = {}  # name -> auto's rank on a CUDA GPU
_OTHER_DEVICES: list[str] = []  # auto's picks elsewhere, in registration order


def register_backend(backend: Backend, *, auto_gpu_rank: int | None = None,
                     auto_on_other_devices: bool = False) -> Backend:
    """Add ``backend`` under its ``name``. ``auto_gpu_rank``: where ``auto`` tries it on a CUDA GPU
    (lower first; None: never there); ``auto_on_other_devices``: whether ``auto`` tries it on any
    other device. Returns ``backend``."""
    name = backend.name
    if not name or name == AUTO:
        raise ArgumentError(f"backend: {name!r} cannot name a backend; allowed: a non-empty name other than {AUTO!r}")
    if name in BACKENDS:
        raise ArgumentError(f"backend: {name!r} is already registered")
    if auto_gpu_rank is not None:
        taken = [other for other, rank in _GPU_RANKS.items() if rank == auto_gpu_rank]
        if taken:  # a tie would leave auto's order to registration order
            raise ArgumentError(f"backend: {name!r} asks for auto_gpu_rank {auto_gpu_rank}, which {taken[0]!r} has")
        _GPU_RANKS[name] = auto_gpu_rank
    if auto_on_other_devices:
        _OTHER_DEVICES.append(name)
    BACKENDS[name] = backend
    return backend


register_backend(ReferenceBackend())  # the judge: small sizes only, never by auto
register_backend(TritonBackend(), auto_gpu_rank=30)
register_backend(NattenBackend("blackwell-fna"), auto_gpu_rank=10)
register_backend(NattenBackend("hopper-fna"), auto_gpu_rank=20)
register_backend(NattenBackend("cutlass-fna"), auto_gpu_rank=40)
register_backend(NattenBackend("flex-fna"), auto_on_other_devices=True)  # not on a GPU: see above
BACKEND_NAMES = (AUTO, *BACKENDS)  # the backends na_accel ships


def auto_order(target: BackendTarget) -> tuple[str, ...]:
    """The backends ``auto`` tries on ``target``, best first."""
    if target.device.type == "cuda":
        return tuple(sorted(_GPU_RANKS, key=_GPU_RANKS.__getitem__))
    return tuple(_OTHER_DEVICES)


def get_backend(name: str) -> Backend:
    """The registered backend called ``name`` (not ``auto``)."""
    check_backend_name(name)
    if name == AUTO:
        raise ArgumentError("backend: 'auto' is resolved per device; call resolve_backend first")
    return BACKENDS[name]


def check_backend_name(name, field: str = "backend") -> None:
    if not isinstance(name, str) or (name != AUTO and name not in BACKENDS):  # BACKENDS: later registrations too
        raise ArgumentError(f"{field}: unknown backend {name!r}; allowed: {[AUTO, *BACKENDS]}")


def needs_probes(requested: str) -> bool:
    """Whether resolving ``requested`` asks backends if they can run (probes may allocate on the
    device); not for a backend that runs anywhere."""
    backend = BACKENDS.get(requested) if isinstance(requested, str) else None
    return backend is None or not backend.runs_anywhere


def backend_reasons(target: BackendTarget) -> dict[str, str | None]:
    """For every registered backend: None when it can run on ``target``, else why it can't."""
    return {name: backend.unavailable_reason(target) for name, backend in BACKENDS.items()}


def resolve_backend(requested: str, target: BackendTarget,
                    reasons: dict[str, str | None] | None = None) -> Backend:
    """The backend that runs for ``requested`` (a name or ``auto``) on ``target``; raises if none can.
    ``reasons``: ``backend_reasons(target)`` if the caller has them already (probing allocates)."""
    check_backend_name(requested)
    if not needs_probes(requested):
        return BACKENDS[requested]
    reasons = backend_reasons(target) if reasons is None else reasons
    if requested == AUTO:
        for name in auto_order(target):
            if reasons[name] is None:
                return BACKENDS[name]
    elif reasons[requested] is None:
        return BACKENDS[requested]
    raise BackendUnavailableError(
        f"backend: {requested!r} cannot run for {target.describe()}.\n"
        f"{format_reasons(reasons)}\n"
        + (_auto_on_gpu(target) if requested == AUTO and target.device.type == "cuda" else "")
        + install_hints()
    )


def _auto_on_gpu(target: BackendTarget) -> str:
    notes = "".join(f" and never {b.auto_gpu_note}" for b in BACKENDS.values() if b.auto_gpu_note)
    return "auto on a GPU tries " + " > ".join(auto_order(target)) + notes + ".\n"


def install_hints() -> str:
    """What each backend needs, one clause per hint: those ``auto`` may pick first, in registration order."""
    auto_picks = set(_GPU_RANKS) | set(_OTHER_DEVICES)
    ordered = sorted(BACKENDS.values(), key=lambda backend: backend.name not in auto_picks)
    hints = dict.fromkeys(b.install_hint for b in ordered if b.install_hint)  # one clause per shared hint
    return "; ".join(hints) + "." if hints else ""


def unavailable_reasons(requested: str, target: BackendTarget) -> dict[str, str]:
    """Why ``requested`` (for ``auto``: each backend it tries) can't run on ``target``."""
    names = auto_order(target) if requested == AUTO else (requested,)
    return {name: BACKENDS[name].unavailable_reason(target) or "available" for name in names}


def faster_unavailable(resolved: str, target: BackendTarget,
                       reasons: dict[str, str | None] | None = None) -> dict[str, str]:
    """Why each backend ``auto`` ranks above ``resolved`` on ``target`` did not run (for reports);
    ``reasons`` as for ``resolve_backend``."""
    order = auto_order(target)
    if resolved not in order:
        return {}
    ahead = order[: order.index(resolved)]
    if reasons is None:
        reasons = {name: BACKENDS[name].unavailable_reason(target) for name in ahead}
    return {name: reasons[name] or "available" for name in ahead}


def format_reasons(reasons: dict[str, str | None]) -> str:
    return "Backends and why:\n" + "\n".join(
        f"  {name}: {'available' if reason is None else reason}" for name, reason in reasons.items()
    )
