"""describe(obj): per attention layer, GNA settings or dense and why, and what actually ran."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import NaAccelError, PatchStateError
from .kernels.window_cost import WindowEstimate, estimate_window
from .patching import TransformerPatch, patches_of, plan_patches
from .recipe.scaling import SnapContext, SnapSpec, snap_tiles
from .runtime import FULL_WINDOW, SPARSE, Outcome
from .runtime.routing import ResolvedWindows
from .windows import ResolvedWindow, WindowSpec, effective_axes, format_axes


@dataclass
class LayerReport:
    name: str
    plan: str  # "GNA window ... (source)" or "dense: why"
    recipe_window: str | None = None  # the recipe's nominal window for this layer (None: dense)
    ran_window: str | None = None  # the window its last call ran, "window ... at grid ..." (None: none ran)
    ran_from_recipe: str | None = None  # how the recipe window became ran_window (clamped, scaled, snapped)
    sparse_calls: int = 0
    full_window_calls: int = 0
    dense_calls: dict[str, int] = field(default_factory=dict)  # reason -> count
    last_window: str | None = None  # the window as last resolved for the actual grid
    last_density: float | None = None  # fraction of visual query-key pairs computed
    # reference-image grids of the last call (FLUX.1 Kontext, ...): "window ... at grid ..." each;
    # their queries also see every token of the other grids
    ran_reference_windows: list[str] = field(default_factory=list)
    last_estimate: dict[str, Any] | None = None  # na_accel.tools.estimate for the last window (bounds, tiles)
    last_estimate_text: str | None = None
    gated_dense: bool = False  # the speed gate ran the last resolved window stock (see dense_calls)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TransformerReport:
    attribute: str
    model_class: str
    recipe: str
    recipe_hash: str
    recipe_source: str  # where the recipe was loaded from (Recipe.source)
    dense_steps: int
    dense_final_steps: int
    backend_requested: str
    backend: str | None  # resolved at patch time (None when no layer is sparse)
    backends_used: dict[str, str]  # per device/dtype seen at run time
    backends_passed_over: dict[str, str]  # faster backends (auto's order) that could not run, and why
    patched: bool  # False for a dry run (describe with a recipe on an unpatched object)
    speed_gate: list[str]  # what the speed gate did (na_accel.speed.gate), a line per device / dtype
    layers: list[LayerReport]

    @property
    def totals(self) -> Counter:
        """Calls of every layer by outcome, as text: "sparse", "full window", "dense: <reason>"."""
        total: Counter = Counter()
        for layer in self.layers:
            total[str(SPARSE)] += layer.sparse_calls
            total[str(FULL_WINDOW)] += layer.full_window_calls
            for reason, count in layer.dense_calls.items():
                total[str(Outcome.dense(reason))] += count
        return Counter({key: count for key, count in total.items() if count})

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "layers"}
        out["layers"] = [layer.to_dict() for layer in self.layers]
        out["totals"] = dict(self.totals)
        return out


@dataclass
class PatchReport:
    transformers: list[TransformerReport]

    def to_dict(self) -> dict[str, Any]:
        return {"transformers": [t.to_dict() for t in self.transformers]}

    def __str__(self) -> str:
        return "\n\n".join(_format_transformer(t) for t in self.transformers)


def describe(obj: Any, recipe: Any = None, *, backend: str = "auto") -> PatchReport:
    """What na_accel does to ``obj``: the plan per layer and the run-time counters.

    On a patched object, ``recipe`` must be None. On an unpatched object, pass ``recipe`` for a
    dry run: the plan ``patch(obj, recipe, backend=backend)`` would apply, with nothing changed.
    """
    patches = patches_of(obj)
    if patches:
        if recipe is not None:
            raise PatchStateError(
                "describe: the object is already patched; call describe(obj) without a recipe, "
                "or unpatch it first to dry-run another recipe"
            )
        return PatchReport([_report(p, patched=True) for p in patches])
    if recipe is None:
        raise PatchStateError(
            f"describe: {type(obj).__name__} is not patched by na_accel; pass recipe=... for a dry run"
        )
    return PatchReport([_report(p, patched=False) for p in plan_patches(obj, recipe, backend=backend)])


def _report(patch: TransformerPatch, patched: bool) -> TransformerReport:
    layers = []
    for name, plan in patch.plans.items():
        window = plan.setting.window if plan.sparse else None
        report = LayerReport(name=name, plan=plan.describe(), recipe_window=window.describe() if window else None)
        route = patch.routes.get(name)
        if route is not None:
            counts = route.counts  # one consistent snapshot while other threads may run
            report.sparse_calls = counts.get(SPARSE, 0)
            report.full_window_calls = counts.get(FULL_WINDOW, 0)
            report.dense_calls = {outcome.reason: n for outcome, n in counts.items() if outcome.is_dense}
            resolved = route.windows.last  # read once: other threads may resolve new windows meanwhile
            if resolved is not None:
                last_window = resolved.window
                report.last_window = last_window.describe()
                report.ran_window, report.ran_from_recipe = _ran_window(last_window)
                report.last_density = last_window.density
                report.ran_reference_windows = [_ran_window(w)[0] for w in resolved.extra]
                report.gated_dense = resolved.gated_dense is not None
                estimate = _estimate(patch, resolved)
                if estimate is not None:
                    report.last_estimate = estimate.to_dict()
                    report.last_estimate_text = estimate.summary()
                    if report.ran_reference_windows:
                        report.last_estimate_text += " (generated image only: reference-image tokens are extra keys)"
        layers.append(report)
    recipe = patch.recipe
    ran = any(layer.sparse_calls or layer.full_window_calls or layer.dense_calls for layer in layers)
    return TransformerReport(
        attribute=patch.attribute,
        model_class=type(patch.transformer).__name__,
        recipe=recipe.name or "<inline>",
        recipe_hash=recipe.hash,
        recipe_source=recipe.source,
        dense_steps=recipe.dense_steps,
        dense_final_steps=recipe.dense_final_steps,
        backend_requested=patch.backend_choice.requested,
        backend=patch.backend_choice.backend.name if patch.backend_choice.backend else None,
        backends_used=patch.backend_choice.used if ran else {},  # nothing used before a call ran (a dry run)
        backends_passed_over=patch.backend_choice.passed_over,
        patched=patched,
        speed_gate=patch.gate.summary(),
        layers=layers,
    )


def _estimate(patch: TransformerPatch, resolved: ResolvedWindows) -> WindowEstimate:
    """The estimate (density, FLOP / tile bounds, block-sparsity) of a route's last window."""
    tiles = None
    tile_backend = patch.backend_choice.tile_backend(resolved.backend, resolved.device, resolved.dtype)
    if tile_backend is not None and effective_axes(resolved.grid):
        context = SnapContext(tile_backend, patch.backend_choice.target.head_dim, torch.finfo(resolved.dtype).bits)
        try:
            tiles = snap_tiles(SnapSpec(tile_backend), resolved.grid, context)
        except NaAccelError:
            tiles = None
    return estimate_window(resolved.window, tiles)


def _ran_window(window: ResolvedWindow) -> tuple[str, str | None]:
    """('window ... at grid ...', how the recipe's window became it: clamped, scaled, snapped)."""
    core = WindowSpec(window.kernel_size, window.stride, window.dilation, window.is_causal).describe()
    how = []
    if window.clamped_axes:
        how.append(f"clamped to grid on axes {list(window.clamped_axes)}")
    if window.scaled:
        how.append(window.scaled)
    if window.snapped:
        snapped = window.snapped
        if window.requested and window.requested != (window.kernel_size, window.stride):
            snapped += f", from window {format_axes(window.requested[0])} stride {format_axes(window.requested[1])}"
        how.append(snapped)
    return f"{core} at grid {format_axes(window.grid)}", "; ".join(how) or None


def _counted(texts: list[str]) -> str:
    """'a (2 layers), b (1 layer)': distinct texts in first-seen order, with how many layers each."""
    counts = Counter(texts)
    return ", ".join(f"{text} ({n} layer{'s' if n != 1 else ''})" for text, n in counts.items())


def _window_lines(t: TransformerReport) -> list[str]:
    """The windows that ran (what the kernel computed at the grids seen), then the recipe's nominal ones."""
    ran = [layer.ran_window for layer in t.layers if layer.ran_window]
    if ran:
        ran_text = _counted(ran)
    elif any(layer.sparse_calls or layer.full_window_calls or layer.dense_calls for layer in t.layers):
        ran_text = "none: every call so far ran dense (see totals)"
    else:
        ran_text = "nothing has run yet"
    recipe = _counted([layer.recipe_window or "dense" for layer in t.layers])
    return [f"  windows run: {ran_text}", f"  recipe windows: {recipe}"]


def _format_transformer(t: TransformerReport) -> str:
    status = "patched" if t.patched else "dry run (not patched)"
    lines = [
        f"{t.attribute} ({t.model_class}) — {status}",
        f"  recipe {t.recipe} [{t.recipe_hash}], dense_steps={t.dense_steps}, "
        + (f"dense_final_steps={t.dense_final_steps}, " if t.dense_final_steps else "")
        + f"backend {t.backend_requested} -> {t.backend or 'none needed (no sparse layer)'}",
        f"  recipe loaded from {t.recipe_source}",
        *_window_lines(t),
    ]
    for name, reason in t.backends_passed_over.items():
        lines.append(f"  not {name}: {reason}")
    if t.backends_used:
        lines.append("  backends used: " + ", ".join(f"{k}: {v}" for k, v in t.backends_used.items()))
    lines += [f"  {line}" for line in t.speed_gate]
    name_width = max(len(layer.name) for layer in t.layers)
    indent = "\n  " + " " * name_width + "  "
    for layer in t.layers:
        if layer.gated_dense:
            line = f"  {layer.name:<{name_width}}  stock (speed gate) instead of GNA {layer.ran_window}"
        elif layer.ran_window:  # lead with what ran; the recipe's window (and how it became this) second
            line = f"  {layer.name:<{name_width}}  GNA {layer.ran_window} (last call), density {layer.last_density:.1%}"
        else:
            line = f"  {layer.name:<{name_width}}  {layer.plan}"
        ran = []
        if layer.sparse_calls:
            ran.append(f"{layer.sparse_calls} sparse")
        if layer.full_window_calls:
            ran.append(f"{layer.full_window_calls} full-window")
        ran += [f"{count} dense ({reason})" for reason, count in layer.dense_calls.items()]
        if ran:
            line += indent + "ran: " + ", ".join(ran)
        if layer.ran_reference_windows:
            line += indent + "reference images: " + "; ".join(layer.ran_reference_windows) + " (+ every other grid's tokens)"
        if layer.ran_window:
            line += indent + f"recipe: {layer.plan}"
            if layer.ran_from_recipe:
                line += f"; here: {layer.ran_from_recipe}"
        if layer.last_estimate_text:
            line += indent + f"estimate: {layer.last_estimate_text}"
        lines.append(line)
    totals = t.totals
    if any(totals.values()):
        lines.append("  totals: " + ", ".join(f"{k}: {v}" for k, v in totals.items() if v))
    return "\n".join(lines)
