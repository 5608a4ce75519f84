"""Measuring inside the calls of a patched pipeline: every GNA layer runs dense attention (the stock
trajectory) and, on the way, the errors of its candidate windows on that call's q / k / v.

The tune patches the pipeline with the base recipe (gate off, no dense steps), so every layer the
base runs sparse builds its real q / k / v (the stock processor's, through the seam) and asks its
route; the recorder observes the routes' answers (``RouteState.observer``: the same seam, no route
swapped on a live processor) and hands each sparse call a ``MeasuringBackend``, which runs it with
windows covering the grids (what reproduces the stock attention, within the backend's rounding)
and hands the same tensors to ``Recorder.measure``. Nothing is stored but sums per (layer, step,
candidate).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..errors import ArgumentError
from ..families.attention_call import SparseCall
from ..kernels.base import dtype_name
from ..kernels.call import GNACall
from ..windows import ResolvedWindow, WindowSpec, format_axes
from .candidates import CallShape, Candidate, candidate_windows
from .measure import sample_rows, window_errors


@dataclass
class LayerRecord:
    """One layer's measurements so far."""

    name: str
    shape: CallShape
    candidates: tuple[Candidate, ...]
    rows: torch.Tensor  # the sampled query rows (flat indices into the grid)
    sums: dict[int, tuple[list[float], float]] = field(default_factory=dict)  # step -> (sq errors, sq dense)
    calls: int = 0


class Recorder:
    """The measurements of one tune: per layer name (both transformers of a two-stage model share
    a layer's record: one recipe rule serves both)."""

    def __init__(self, *, max_query_rows: int | None, seed: int, max_candidates: int) -> None:
        self.max_query_rows = max_query_rows
        self.seed = seed
        self.max_candidates = max_candidates
        self.layers: dict[str, LayerRecord] = {}
        self.schedule_length: int | None = None
        self.unmeasured: dict[str, int] = {}  # why calls were not measured -> calls
        self._lock = threading.Lock()

    def measure(self, name: str, step: int, route: Any, backend: Any, query, key, value, call: GNACall) -> None:
        record = self.layers.get(name)
        if record is None:
            record = self._new_record(name, route, backend, query, call)
        elif record.shape.grids != call.grids:  # text lengths may differ (CFG's negative prompt): the windows don't
            self._skip(f"a call at grid {' + '.join(map(format_axes, call.grids))}, not the first call's "
                       f"{' + '.join(map(format_axes, record.shape.grids))}")
            return
        found = window_errors(query, key, value, call, candidates=[c.window for c in record.candidates],
                              rows=record.rows)
        with self._lock:
            errors, dense = record.sums.get(step, ([0.0] * len(record.candidates), 0.0))
            record.sums[step] = ([a + b for a, b in zip(errors, found.squared_errors)], dense + found.squared_dense)
            record.calls += 1

    def _new_record(self, name, route, backend, query, call: GNACall) -> LayerRecord:
        state = route.state
        device, dtype = query.device, query.dtype
        shape = CallShape(
            grids=call.grids, text_len=call.text_len, heads=query.shape[2], head_dim=query.shape[3],
            element_size=query.element_size(), backend=backend.name,
            snap=state.backend_choice.tiles_for(backend, device, dtype),
            profile=state.gate.profile_for(str(device), dtype_name(dtype))[1],
        )
        candidates = tuple(candidate_windows(shape, call.window, max_candidates=self.max_candidates))
        rows = sample_rows(math.prod(call.window.grid), self.max_query_rows, self.seed, device=device)
        record = LayerRecord(name, shape, candidates, rows)
        with self._lock:
            return self.layers.setdefault(name, record)

    def observe(self, route: Any, sparse: SparseCall) -> SparseCall:
        """A route's sparse call, run by a ``MeasuringBackend`` (``RouteState.observer``)."""
        if sparse.ulysses is not None:
            raise ArgumentError("tune: context parallelism is on; tune on one device (the errors are the same)")
        context = route.state.contexts.current
        step = context.step.index if context is not None and context.step is not None else 0
        if context is not None and context.step is not None and context.step.total is not None:
            self.schedule_length = context.step.total
        return replace(sparse, backend=MeasuringBackend(self, route, sparse.backend, step))

    def _skip(self, reason: str) -> None:
        with self._lock:
            self.unmeasured[reason] = self.unmeasured.get(reason, 0) + 1


class MeasuringBackend:
    """Runs one call as stock (a full window) and measures the candidates on its inputs."""

    def __init__(self, recorder: Recorder, route: Any, backend: Any, step: int) -> None:
        self.recorder, self.route, self.backend, self.step = recorder, route, backend, step
        self.name, self.tile_backend = backend.name, backend.tile_backend

    def joint_attention(self, query, key, value, call: GNACall, *, dense_attention,
                        attention_mask=None) -> torch.Tensor:
        # stock: the same backend with windows covering every grid (a full window reproduces stock
        # attention, the family's masks and text rows included)
        covering = replace(call, window=_covering(call.window), extra_windows=tuple(map(_covering, call.extra_windows)))
        output = self.backend.joint_attention(query, key, value, covering, dense_attention=dense_attention,
                                              attention_mask=attention_mask)
        self.recorder.measure(self.route.name, self.step, self.route, self.backend, query, key, value, call)
        return output


def _covering(window: ResolvedWindow) -> ResolvedWindow:
    """The window covering ``window``'s grid: dense attention over it."""
    grid = window.grid
    return WindowSpec(grid, (1,) * len(grid), (1,) * len(grid), (False,) * len(grid)).resolve(grid)


__all__ = ["LayerRecord", "MeasuringBackend", "Recorder"]
