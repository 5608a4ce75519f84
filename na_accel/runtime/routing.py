"""Per-layer routing: each call of a patched layer runs sparse (GNA) or stock, and is counted.

The seam describes an attention call as an ``AttentionCall``; ``LayerRoute.route`` takes it through
its steps in order (the layout, context parallelism, the sequence, the text rows, the backend: the
first refusal sends the call to the stock attention, counted), then the windows (``WindowCache``:
resolved once per grids and backend), and answers with a ``SparseCall``; each step runs once.
What a route needs of its transformer's patch is one typed ``RouteState``; what its calls ran is
counted by the route itself (``LayerRoute.counts``).
"""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import Refusal
from ..families import TokenLayout
from ..families.attention_call import AttentionCall, SparseCall
from ..kernels.call import GNACall
from ..kernels.ulysses import UlyssesShards, ulysses_shards
from ..plan import LayerPlan
from ..recipe.model import Recipe
from ..speed import SpeedGate
from ..windows import ResolvedWindow
from .backend_choice import BackendChoice
from .context import CallContexts
from .outcomes import FULL_WINDOW, SPARSE, Outcome


@dataclass
class RouteState:
    """What every layer route of one patched transformer shares (one per ``TransformerPatch``)."""

    attribute: str  # "transformer", "transformer_2", or the class name of a bare model (for warnings)
    recipe: Recipe
    backend_choice: BackendChoice
    gate: SpeedGate  # where sparse pays on the device (recipe.speed_gate)
    contexts: CallContexts = field(default_factory=CallContexts)  # each thread's current forward call
    warned: set = field(default_factory=set)  # outcomes already warned about (once each)
    # Sees every sparse call of the transformer's routes and may replace it (a tune measures through
    # it: na_accel.tuning.recorder); None: calls run as routed.
    observer: Callable[["LayerRoute", SparseCall], SparseCall] | None = None


@dataclass(frozen=True)
class WindowsKey:
    """What a layer's resolved windows depend on: a call with an equal key reuses them."""

    grids: tuple[tuple[int, ...], ...]  # the generated image's grid, then one per reference-image grid
    backend: Any  # the Backend that runs them
    device: str
    dtype: Any  # torch.dtype
    text_len: int
    ulysses_degree: int  # 1 without context parallelism


@dataclass(frozen=True)
class ResolvedWindows:
    """A layer's windows for one ``WindowsKey``."""

    key: WindowsKey
    window: ResolvedWindow  # the generated image's grid
    extra: tuple[ResolvedWindow, ...]  # one per reference-image grid
    gated_dense: str | None  # why the speed gate runs them stock, or None (they run GNA)

    @property
    def grid(self) -> tuple[int, ...]:
        return self.key.grids[0]

    @property
    def backend(self):
        return self.key.backend

    @property
    def device(self) -> str:
        return self.key.device

    @property
    def dtype(self):
        return self.key.dtype


class WindowCache:
    """The windows a layer resolved last, kept as one object: concurrent calls never pair one call's
    key with another's windows."""

    def __init__(self) -> None:
        self.last: ResolvedWindows | None = None

    def get(self, key: WindowsKey, resolve: Callable[[], ResolvedWindows]) -> ResolvedWindows:
        last = self.last
        if last is None or last.key != key:  # once per grids, backend and text length, not per call
            last = self.last = resolve()
        return last


class _PendingOutcomes(threading.local):
    """One layer's outcomes in this thread since its transformer's forward began."""

    def __init__(self) -> None:
        self.ran: list[Outcome] = []

    def __reduce__(self) -> tuple:  # a copy (deepcopy, pickle) starts with nothing pending
        return _PendingOutcomes, ()


# --------------------------------------------------------------------------------------------
# The steps of ``LayerRoute.route``, in order: each gives why a call can't run GNA (a Refusal), or
# what it found. The first refusal is the reason counted.
# --------------------------------------------------------------------------------------------


def _ulysses(call: AttentionCall) -> UlyssesShards | None | Refusal:
    """The Ulysses shards a call runs on (None: not context parallel), or why it can't run GNA."""
    if call.parallel_config is None:
        return None
    if not call.ulysses:
        return Refusal("context parallelism shards the sequence (this family has no Ulysses path)")
    return ulysses_shards(call.parallel_config)


def _sequence_refusal(call: AttentionCall, layout: TokenLayout, degree: int) -> Refusal | None:
    n_visual = layout.visual_len
    if n_visual % degree or layout.text_len % degree:
        return Refusal(f"ulysses_degree={degree} does not divide the {n_visual} visual and {layout.text_len} "
                       "text tokens")
    if call.seq_len * degree != n_visual + layout.text_len:
        refs = f" + reference grids {list(layout.extra_grids)}" if layout.extra_grids else ""
        shard = f" (this rank's 1/{degree} Ulysses shard)" if degree > 1 else ""
        return Refusal(f"sequence of {call.seq_len} tokens{shard} does not match grid {layout.grid}{refs} + "
                       f"{layout.text_len} text tokens")
    return None


def _text_valid_lens(call: AttentionCall, layout: TokenLayout) -> tuple[int, ...] | None | Refusal:
    """Per row this call got, its valid text length (None: all valid), or why the rows are unknown."""
    if call.mask_text_lens is not None:  # read from the mask the stock processor attends with
        return rows_text_lens(layout, tuple(call.mask_text_lens))
    lens = layout.text_valid_lens
    if lens is None or call.batch == len(lens):
        return lens
    # no mask read (under torch.compile a padding-shaped one is trusted unread) says which of the
    # inputs' rows these are; if every row has the same text length, it doesn't matter
    if len(set(lens)) > 1:
        return Refusal(f"the layer got {call.batch} batch rows but the transformer's inputs had {len(lens)} with "
                       f"text lengths {list(lens)} (a hook inside the forward changed the batch), and no padding "
                       "mask was read to say which rows these are")
    return lens[:1] * call.batch


# --------------------------------------------------------------------------------------------
# The route of one layer
# --------------------------------------------------------------------------------------------


class LayerRoute:
    """Decides sparse vs stock for each call of one layer, and counts what ran.

    Each call appends its outcome to this layer's own per-thread list, which the transformer's
    post-forward hook adds to this layer's totals (``commit``). Why a list per layer: where dynamo
    can't trace a model's forward whole (HunyuanVideo 1.5), it compiles each block's forward as a
    frame of its own, one code for every block, guarded on every Python value the trace read.
    Appending to a list reached through the block (``attn.processor._na_accel_layer.route``) reads nothing that
    differs between layers; a (layer name, outcome) key in one dict shared by all layers did, and
    recompiled once per layer until ``torch._dynamo.config.recompile_limit`` left the rest eager.
    """

    def __init__(self, state: RouteState, plan: LayerPlan) -> None:
        self.state = state
        self.plan = plan
        self.windows = WindowCache()
        self._pending = _PendingOutcomes()
        self._totals: Counter = Counter()  # Outcome -> calls, of the finished forward calls
        self._lock = threading.Lock()

    # A copy (deepcopy, pickle) resolves its windows again, on its own device, and counts only its own calls.
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("windows", "_pending", "_totals", "_lock")}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["state"], state["plan"])

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def counts(self) -> Counter:
        """What this layer's finished calls ran: ``Outcome`` -> calls (a snapshot, safe while others run)."""
        with self._lock:
            return Counter(self._totals)

    def commit(self) -> None:
        """Add what this thread's calls ran since the last commit to the totals (the post-forward hook)."""
        ran = self._pending.ran
        if ran:
            with self._lock:
                self._totals.update(ran)
            ran.clear()

    def route(self, call: AttentionCall) -> SparseCall | None:
        """A SparseCall to run GNA, or None to run the stock attention call (the reason is counted)."""
        if self._context_refused():
            return None
        layout = self.state.contexts.current.layout
        if call.foreign_mask:
            return self.dense("an attention_mask was passed that the GNA path can't honour")
        if isinstance(shards := _ulysses(call), Refusal):
            return self.dense(shards)
        degree = shards.degree if shards is not None else 1
        if (refusal := _sequence_refusal(call, layout, degree)) is not None:
            return self.dense(refusal)
        if isinstance(text_valid_lens := _text_valid_lens(call, layout), Refusal):
            return self.dense(text_valid_lens)
        if isinstance(backend := self.state.backend_choice.for_call(call.device, call.dtype, call.needs_grad), Refusal):
            return self.dense(backend)
        key = WindowsKey((layout.grid, *layout.extra_grids), backend, str(call.device), call.dtype, layout.text_len,
                         degree)
        windows = self.windows.get(key, lambda: self._resolve(key, call))
        if windows.gated_dense is not None:
            return self.dense(windows.gated_dense, warn=False)
        covered = windows.window.covers_grid and all(w.covers_grid for w in windows.extra)
        self._pending.ran.append(FULL_WINDOW if covered else SPARSE)
        call = GNACall(windows.window, text_len=layout.text_len, text_first=layout.text_first,
                       text_valid_lens=text_valid_lens, extra_windows=windows.extra)
        sparse = SparseCall(call, backend, shards)
        observer = self.state.observer
        return sparse if observer is None else observer(self, sparse)

    def refuse(self, reason: str) -> None:
        """Count a call the seam runs stock for ``reason`` (cross attention, dispatch options GNA
        can't honour, attention computed outside ``dispatch_attention_fn``), unless the call's
        context rules GNA out first: then that reason is the one counted. Returns None."""
        if not self._context_refused():
            self.dense(reason)

    def _context_refused(self) -> bool:
        """Whether this thread's forward call runs this layer stock whatever the call (counted if so):
        no forward running, a dense step, or no token grid."""
        context = self.state.contexts.current
        if context is None:
            self.dense("called outside the transformer's forward (no token layout)")
        elif context.dense_step_reason is not None:
            self.dense(context.dense_step_reason, warn=False)
        elif context.layout.grid is None:
            self.dense(f"no token grid: {context.layout.problem}")
        else:
            return False
        return True

    def _resolve(self, key: WindowsKey, call: AttentionCall) -> ResolvedWindows:
        """The recipe's windows on these grids, and the speed gate's decision for them."""
        recipe, choice = self.state.recipe, self.state.backend_choice
        tiles = choice.tiles_for(key.backend, call.device, call.dtype)
        window, *extra = (recipe.resolve(self.plan.setting.window, grid, tiles) for grid in key.grids)
        sparse, why_dense = self.state.gate.decide(
            (window, *extra), text_len=key.text_len, head_dim=choice.target.head_dim, backend=key.backend.name,
            tile_backend=tiles.backend, device=call.device,
            dtype=call.dtype, ulysses_degree=key.ulysses_degree,
        )
        return ResolvedWindows(key, window, tuple(extra), None if sparse else why_dense)

    def dense(self, reason: str, warn: bool = True) -> None:
        """Count (and warn once about) a call that runs stock for ``reason``; returns None."""
        outcome = Outcome.dense(str(reason))
        self._pending.ran.append(outcome)
        if self.state.contexts.current is None:  # outside a forward: no post-forward hook commits it
            self.commit()
        if warn and outcome not in self.state.warned:
            self.state.warned.add(outcome)
            warnings.warn(
                f"na_accel: {self.state.attribute} layer {self.name} ran dense attention: {reason}. "
                "This and later fallbacks are counted in na_accel.describe(...).",
                stacklevel=4,
            )
        return None


def rows_text_lens(layout: TokenLayout, mask_lens: tuple[int, ...]) -> tuple[int, ...] | None:
    """The valid text lengths of the rows one call of a layer got (None: every text token is valid).

    ``mask_lens`` (one per row the layer got) are read from the padding mask the stock processor
    attends with, so they are what stock honours for these rows, and what GNA honours: a hook that
    edits or drops the mask on its way to a layer, diffusers 0.36's Qwen-Image (its processor
    ignores the mask: padded text stays a key), or a hook that runs fewer rows than the inputs had
    (FasterCache's denoiser hook runs the conditional half of a [uncond, cond] batch) is followed.
    """
    return None if all(n == layout.text_len for n in mask_lens) else tuple(mask_lens)
