"""What the two contract suites share: the backends this machine runs for a family, and the
difference they bound (max |a - b| relative to b's scale)."""

import torch

from na_accel.families import family_geometry
from na_accel.kernels import BACKENDS, BackendTarget


def runnable_backends(family: str) -> list[str]:
    """The registered backends that run the family's rank on this machine's CPU in float32."""
    target = BackendTarget(torch.device("cpu"), torch.float32, 16, len(family_geometry(family).axes))
    return [name for name, backend in BACKENDS.items() if backend.unavailable_reason(target) is None]


def difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())
