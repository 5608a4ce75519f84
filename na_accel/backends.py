"""Attention backends: which kernel runs the neighborhood attention, and why the others can't.

* ``"auto"``: NATTEN's best for the device, in NATTEN's own order of preference
  (blackwell-fna > hopper-fna > cutlass-fna > flex-fna).
* NATTEN's backend names, asked for directly.
* ``"reference"``: na_accel's explicit-mask dense implementation (``na_accel.reference``), for
  verifying a NATTEN backend at small sizes on any device.

Availability is decided by NATTEN's own checks on small probe tensors of the model's device,
dtype and head_dim, so the answer matches what NATTEN would do at run time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from .errors import ArgumentError, BackendUnavailableError

NATTEN_BACKENDS = ("blackwell-fna", "hopper-fna", "cutlass-fna", "flex-fna")
REFERENCE = "reference"
AUTO = "auto"
BACKEND_NAMES = (AUTO, REFERENCE) + NATTEN_BACKENDS

# torch's flex_attention warns on every unfused (CPU / uncompiled) call and about a renamed
# argument NATTEN still uses; neither is actionable for na_accel users.
warnings.filterwarnings("ignore", message="return_lse is deprecated", category=FutureWarning)
warnings.filterwarnings(
    "ignore", message="flex_attention called without torch.compile", category=UserWarning
)


def dtype_name(dtype: torch.dtype) -> str:
    """'bfloat16' for torch.bfloat16: how dtypes appear in na_accel's messages and reports."""
    return str(dtype).replace("torch.", "")


@dataclass(frozen=True)
class BackendTarget:
    """What a backend must run on: the attention inputs' device, dtype, head_dim and grid rank."""

    device: torch.device
    dtype: torch.dtype
    head_dim: int
    grid_rank: int

    def describe(self) -> str:
        return (
            f"device={self.device}, dtype={dtype_name(self.dtype)}, "
            f"head_dim={self.head_dim}, {self.grid_rank}-D grid"
        )


def _natten_checks():
    from natten.backends.configs.checks import (
        can_run_cutlass_blackwell_fna,
        can_run_cutlass_fna,
        can_run_cutlass_hopper_fna,
        can_run_flex_attention,
    )

    return {
        "blackwell-fna": can_run_cutlass_blackwell_fna,
        "hopper-fna": can_run_cutlass_hopper_fna,
        "cutlass-fna": can_run_cutlass_fna,
        "flex-fna": lambda q, k, v, raise_error: can_run_flex_attention(
            q, k, v, torch_compile=False, raise_error=raise_error
        ),
    }


def backend_reasons(target: BackendTarget) -> dict[str, str | None]:
    """For every concrete backend: None when it can run on ``target``, else the reason it can't."""
    reasons: dict[str, str | None] = {REFERENCE: None}
    # A probe shaped like the real input: [batch, *grid, heads, head_dim] (grid axes >= 2).
    probe = torch.zeros(
        (1,) + (8,) * target.grid_rank + (1, target.head_dim),
        device=target.device,
        dtype=target.dtype,
    )
    for name, check in _natten_checks().items():
        try:
            ok = check(probe, probe, probe, raise_error=True)
        except Exception as exc:  # NATTEN raises RuntimeError/ValueError/NotImplementedError
            reasons[name] = str(exc).strip().splitlines()[0]
            continue
        reasons[name] = None if ok else "NATTEN's check declined without a reason"
    return reasons


def resolve_backend(requested: str, target: BackendTarget) -> str:
    """The concrete backend that runs for ``requested`` on ``target``; raises if none can."""
    if requested not in BACKEND_NAMES:
        raise ArgumentError(f"backend: unknown backend {requested!r}; allowed: {list(BACKEND_NAMES)}")
    if requested == REFERENCE:
        return REFERENCE
    reasons = backend_reasons(target)
    if requested == AUTO:
        for name in NATTEN_BACKENDS:
            if reasons[name] is None:
                return name
    elif reasons[requested] is None:
        return requested
    listing = "\n".join(
        f"  {name}: {'available' if reason is None else reason}" for name, reason in reasons.items()
    )
    raise BackendUnavailableError(
        f"backend: {requested!r} cannot run for {target.describe()}.\n"
        f"Backends and why:\n{listing}\n"
        "NATTEN's fused GPU kernels (hopper-fna, blackwell-fna, cutlass-fna) come with NATTEN's "
        "prebuilt CUDA wheels; 'reference' runs anywhere at small sizes."
    )
