"""Per-layer routing: each call of a patched layer runs sparse (GNA) or stock, and is counted."""

from __future__ import annotations

import math
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import BackendUnavailableError, Refusal
from ..families import TokenLayout
from ..kernels import Backend
from ..kernels.ulysses import UlyssesShards, ulysses_shards
from ..plan import LayerPlan
from .outcomes import FULL_WINDOW, SPARSE, Outcome
from ..windows import ResolvedWindow


@dataclass
class SparseCall:
    window: ResolvedWindow
    text_len: int
    text_first: bool
    backend: Backend
    text_valid_lens: tuple[int, ...] | None = None
    extra_windows: tuple[ResolvedWindow, ...] = ()  # one per reference-image grid (TokenLayout.extra_grids)
    ulysses: UlyssesShards | None = None  # run under Ulysses context parallelism (kernels/ulysses.py)


class _PendingOutcomes(threading.local):
    """One layer's outcomes in this thread, not yet added to the patch's totals."""

    def __init__(self) -> None:
        self.ran: list[Outcome] = []

    def __reduce__(self) -> tuple:  # a copy (deepcopy, pickle) starts with nothing pending
        return _PendingOutcomes, ()


class LayerRoute:
    """Decides sparse vs stock for each call of one layer, and counts what ran.

    Each call appends its outcome to this layer's own per-thread list, which the transformer's
    post-forward hook moves into the totals (``take_pending``). Why a list per layer: where dynamo
    can't trace a model's forward whole (HunyuanVideo 1.5), it compiles each block's forward as a
    frame of its own, one code for every block, guarded on every Python value the trace read.
    Appending to a list reached through the block (``attn.processor.route``) reads nothing that
    differs between layers; a (layer name, outcome) key in one dict shared by all layers did, and
    recompiled once per layer until ``torch._dynamo.config.recompile_limit`` left the rest eager.
    """

    def __init__(self, patch: Any, plan: LayerPlan) -> None:
        self.patch = patch  # the na_accel.patching.TransformerPatch this layer belongs to
        self.plan = plan
        # (key, window, reference windows, why the speed gate runs them dense or None): the windows last
        # resolved, and the (grids, backend, device, dtype) they were resolved for; one tuple, so
        # concurrent calls never pair one call's key with another's windows
        self._resolved: tuple[tuple, ResolvedWindow, tuple[ResolvedWindow, ...], str | None] | None = None
        self._pending = _PendingOutcomes()

    def __getstate__(self) -> dict:  # a copy resolves its windows again, on its own device
        return {**self.__dict__, "_resolved": None}

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def counts(self) -> Counter:
        """What this layer's finished calls ran: ``Outcome`` -> calls."""
        return self.patch.calls.layer_totals(self.name)

    def take_pending(self) -> Counter:
        """(layer name, Outcome) -> calls this thread's calls ran since the last take; clears them."""
        ran = self._pending.ran
        taken = Counter((self.name, outcome) for outcome in ran)
        ran.clear()
        return taken

    @property
    def resolved(self) -> tuple[tuple, ResolvedWindow] | None:
        """((grid, backend, device, dtype), window) of the last call that ran GNA, read at once;
        ``grid`` is the generated image's (the first visual grid)."""
        resolved = self._resolved
        if resolved is None:
            return None
        (grids, backend, device, dtype, _, _), window, _, _ = resolved
        return (grids[0], backend, device, dtype), window

    @property
    def last_window(self) -> ResolvedWindow | None:
        return self._resolved[1] if self._resolved is not None else None

    @property
    def last_windows(self) -> tuple[ResolvedWindow | None, tuple[ResolvedWindow, ...]]:
        """(window, reference-image windows) the last GNA call ran, read at once; (None, ()) before any."""
        resolved = self._resolved
        return (resolved[1], resolved[2]) if resolved is not None else (None, ())

    @property
    def gated_dense(self) -> str | None:
        """Why the speed gate ran the last resolved windows stock, or None (they ran GNA)."""
        resolved = self._resolved
        return resolved[3] if resolved is not None else None

    @property
    def last_key(self) -> tuple | None:
        resolved = self.resolved
        return resolved[0] if resolved is not None else None

    def route(
        self,
        *,
        seq_len: int,
        text_len_seen: int | None,
        unhandled_attention_mask: bool,
        device: torch.device,
        dtype: torch.dtype,
        has_parallel_config: bool = False,
        needs_grad: bool = False,
        mask_text_lens: tuple[int, ...] | None = None,
        parallel_config: Any = None,
        batch: int | None = None,
    ) -> SparseCall | None:
        """A SparseCall to run GNA, or None to run the stock processor (the reason is counted).

        ``mask_text_lens``: the per-row valid text lengths a padding mask the processor was given
        encodes; they must agree with the layout's (read from the transformer's inputs).
        ``needs_grad``: autograd records this call (the backend must have a backward pass).
        ``parallel_config``: the diffusers context-parallel config of a processor that can run GNA
        under Ulysses (``seq_len`` and ``text_len_seen`` are then this rank's shard);
        ``has_parallel_config``: a processor without that path has one (it runs stock).
        ``batch``: the rows this call got, where its text may be padded per row (checked against the
        layout's rows when no ``mask_text_lens`` say which rows they are).
        """
        ctx = self.patch.calls.current
        if ctx is None:
            return self.dense("called outside the transformer's forward (no token layout)")
        if ctx.dense_step_reason is not None:
            return self.dense(ctx.dense_step_reason, warn=False)
        recipe = self.patch.recipe
        layout = ctx.layout
        if layout.grid is None:
            return self.dense(f"no token grid: {layout.problem}")
        if unhandled_attention_mask:
            return self.dense("an attention_mask was passed that the GNA path can't honour")
        ulysses = None
        if parallel_config is not None:
            ulysses = ulysses_shards(parallel_config)
            if isinstance(ulysses, Refusal):
                return self.dense(ulysses)
        elif has_parallel_config:
            return self.dense("context parallelism shards the sequence (this GNA processor has no Ulysses path)")
        grids = (layout.grid, *layout.extra_grids)
        n_visual = sum(math.prod(g) for g in grids)
        degree = ulysses.degree if ulysses is not None else 1
        if n_visual % degree or layout.text_len % degree:
            return self.dense(
                f"ulysses_degree={degree} does not divide the {n_visual} visual and {layout.text_len} text tokens"
            )
        if seq_len * degree != n_visual + layout.text_len or (
            text_len_seen is not None and text_len_seen * degree != layout.text_len
        ):
            refs = f" + reference grids {list(layout.extra_grids)}" if layout.extra_grids else ""
            shard = f" (this rank's 1/{degree} Ulysses shard)" if degree > 1 else ""
            return self.dense(
                f"sequence of {seq_len} tokens{shard} does not match grid {layout.grid}{refs} + "
                f"{layout.text_len} text tokens"
            )
        text_valid_lens = layout.text_valid_lens
        if mask_text_lens is not None:
            text_valid_lens = rows_text_lens(layout, tuple(mask_text_lens))
            if isinstance(text_valid_lens, Refusal):
                return self.dense(text_valid_lens)
        elif text_valid_lens is not None and batch is not None and batch != len(text_valid_lens):
            # no mask read (under torch.compile a padding-shaped one is trusted unread) says which
            # of the inputs' rows these are; if every row has the same text length, it doesn't matter
            if len(set(text_valid_lens)) > 1:
                return self.dense(
                    f"the layer got {batch} batch rows but the transformer's inputs had {len(text_valid_lens)} "
                    f"with text lengths {list(text_valid_lens)} (a hook inside the forward changed the batch), "
                    "and no padding mask was read to say which rows these are"
                )
            text_valid_lens = text_valid_lens[:1] * batch
        backends = self.patch.backends
        backend = backends.for_call(device, dtype, needs_grad)
        if isinstance(backend, BackendUnavailableError):
            return self.dense(backends.unavailable_reason(device, dtype, needs_grad))
        key = (grids, backend, str(device), dtype, layout.text_len, degree)
        resolved = self._resolved
        if resolved is None or resolved[0] != key:  # once per grids, backend and text length, not per call
            context = backends.snap_context(recipe.scaling, backend, device, dtype)
            window, *extra = (recipe.resolve(self.plan.setting.window, grid, context) for grid in grids)
            # the speed gate's decision for these windows (na_accel.speed.gate)
            sparse, why_dense = self.patch.gate.decide(
                (window, *extra), text_len=layout.text_len, head_dim=backends.target.head_dim,
                backend=backend.name, tile_backend=backends.tile_backend(backend, device, dtype), device=device,
                dtype=dtype, ulysses_degree=degree,
            )
            resolved = self._resolved = (key, window, tuple(extra), why_dense if not sparse else None)
        _, window, extra_windows, why_dense = resolved
        if why_dense is not None:
            return self.dense(why_dense, warn=False)
        covered = window.covers_grid and all(w.covers_grid for w in extra_windows)
        self._pending.ran.append(FULL_WINDOW if covered else SPARSE)
        return SparseCall(
            window, layout.text_len, layout.text_first, backend, text_valid_lens, extra_windows, ulysses
        )

    def dense(self, reason: str, warn: bool = True) -> None:
        """Count (and warn once about) a call the processor runs stock for ``reason``; returns None."""
        key = Outcome.dense(reason)
        if self.patch.calls.current is not None:  # inside the forward: the post-forward hook adds it
            self._pending.ran.append(key)
        else:
            self.patch.calls.add(Counter({(self.name, key): 1}))
        if warn and key not in self.patch.warned:
            self.patch.warned.add(key)
            warnings.warn(
                f"na_accel: {self.patch.attribute} layer {self.name} ran dense attention: {reason}. "
                "This and later fallbacks are counted in na_accel.describe(...).",
                stacklevel=4,
            )
        return None


def rows_text_lens(layout: TokenLayout, mask_lens: tuple[int, ...]) -> tuple[int, ...] | None | Refusal:
    """The valid text lengths of the rows one call of a layer got, or why they are unknown.

    ``mask_lens`` (one per row the layer got) are read from the padding mask the layer was handed;
    they must agree with the layout's, read from the transformer's inputs. A hook inside the
    transformer's forward may run fewer rows than its inputs had (FasterCache's denoiser hook runs
    only the conditional half of a [uncond, cond] batch, after na_accel read the full batch): then
    the mask's lengths are the rows' own, accepted when they are a run of the inputs' rows.
    """
    expected = layout.text_valid_lens or (layout.text_len,) * len(mask_lens)
    if len(mask_lens) == len(expected):
        if mask_lens == tuple(expected):
            return layout.text_valid_lens
        return Refusal(f"the attention mask's valid text lengths {list(mask_lens)} differ from the "
                f"transformer inputs' {list(expected)}")
    n = len(mask_lens)
    if any(tuple(expected[i:i + n]) == mask_lens for i in range(len(expected) - n + 1)):
        return mask_lens
    return Refusal(f"the layer got {n} batch rows but the transformer's inputs had {len(expected)} (a hook inside "
            f"the forward changed the batch), and its mask's valid text lengths {list(mask_lens)} are not "
            f"a run of the inputs' {list(expected)}")
