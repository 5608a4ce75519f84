"""What one call of a patched attention layer ran: a typed outcome, counted per layer.

``describe`` shows outcomes as text ("sparse", "full window", "dense: <reason>"); inside na_accel
they stay objects, so no code parses a reason back out of a string.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Ran(enum.Enum):
    SPARSE = "sparse"  # GNA with a window smaller than the grid
    FULL_WINDOW = "full window"  # through GNA, but the window covered the whole grid (dense math)
    DENSE = "dense"  # the stock processor ran; ``Outcome.reason`` says why


@dataclass(frozen=True)
class Outcome:
    ran: Ran
    reason: str | None = None  # why the stock processor ran (DENSE only)

    @classmethod
    def dense(cls, reason: str) -> "Outcome":
        return cls(Ran.DENSE, reason)

    @property
    def is_dense(self) -> bool:
        return self.ran is Ran.DENSE

    def __str__(self) -> str:
        return f"dense: {self.reason}" if self.is_dense else self.ran.value


SPARSE = Outcome(Ran.SPARSE)
FULL_WINDOW = Outcome(Ran.FULL_WINDOW)

__all__ = ["FULL_WINDOW", "SPARSE", "Outcome", "Ran"]
