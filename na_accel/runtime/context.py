"""Per-call state of a patched transformer, kept apart for every thread and every forward call.

A patched transformer may serve several threads at once (a server handling two requests of
different sizes). What one forward call reads from its inputs (token grid, text length, step)
lives in that call's ``CallContext``, found through a thread-local. What its layers ran is kept
per layer and thread, and added to that layer's totals when the call ends (``LayerRoute.commit``).
"""

from __future__ import annotations

import threading
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


class CallContexts:
    """The current ``CallContext`` of each thread (what ran is counted by each layer's route)."""

    def __init__(self) -> None:
        self._local = threading.local()

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

    # A copy of a patched model (copy.deepcopy, torch.save) starts with no call running.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
