"""Per-call state of a patched transformer, kept apart for every thread and every forward call.

A patched transformer may serve several threads at once (a server handling two requests of
different sizes). What one forward call reads from its inputs (token grid, text length, step)
lives in that call's ``CallContext``, found through a thread-local. What its layers ran is kept
per layer and thread (``LayerRoute.take_pending``) and merged into the totals here, under a lock,
when the call ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from ..families import TokenLayout
from .steps import StepPosition


@dataclass
class CallContext:
    """One transformer forward call: its token layout and denoising step."""

    layout: TokenLayout
    step: StepPosition | None
    # Why the recipe runs this whole call dense (a dense step), or None. Decided eagerly once per
    # call: under torch.compile the layers read this, not the step index, which dynamo would
    # guard on and recompile for at every denoising step.
    dense_step_reason: str | None = None
    outer: "CallContext | None" = None  # the context this call interrupted (a re-entrant forward)


class CallState:
    """The current ``CallContext`` of each thread, and the totals every finished call added to."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.totals: dict[str, Counter] = {}  # layer name -> Outcome -> calls

    @property
    def current(self) -> CallContext | None:
        return getattr(self._local, "context", None)

    def begin(self, layout: TokenLayout, step: StepPosition | None, dense_step_reason: str | None = None) -> None:
        self._local.context = CallContext(layout, step, dense_step_reason, outer=self.current)

    def end(self) -> None:
        context = self.current
        if context is not None:
            self._local.context = context.outer

    def clear(self) -> None:
        self._local.context = None

    def add(self, counts: Counter) -> None:
        """Merge (layer name, outcome) counts into the totals."""
        with self._lock:
            for (layer, outcome), n in counts.items():
                self.totals.setdefault(layer, Counter())[outcome] += n

    # A copy of a patched model (copy.deepcopy, torch.save) starts with no call running and no
    # totals: what ran is the record of the original's calls.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def layer_totals(self, layer: str) -> Counter:
        """A snapshot of one layer's totals (safe while other threads run)."""
        with self._lock:
            return Counter(self.totals.get(layer, ()))
