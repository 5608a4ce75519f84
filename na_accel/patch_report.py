"""describe(obj): per attention layer, GNA settings or dense and why, and what actually ran."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .errors import NaAccelError, PatchStateError
from .kernels.window_cost import WindowEstimate, estimate_window
from .patching import TransformerPatch, patches_of, plan_patches
from .plan import LayerPlan
from .recipe.scaling import SNAP_AUTO, SnapSpec, snap_tiles
from .runtime import FULL_WINDOW, SPARSE, Outcome
from .runtime.backend_choice import BackendChoice
from .runtime.routing import ResolvedWindows


@dataclass
class LayerReport:
    """One attention layer, held as objects: its plan, what its calls ran, the windows its last call
    resolved and their estimate. Every text and ``to_dict`` value derives from them, here."""

    layer_plan: LayerPlan
    counts: Counter = field(default_factory=Counter)  # Outcome -> calls (LayerRoute.counts)
    resolved: ResolvedWindows | None = None  # the windows of the last call (None: none ran)
    estimate: WindowEstimate | None = None  # of resolved.window, on the tiles that applied

    @property
    def name(self) -> str:
        return self.layer_plan.name

    @property
    def plan(self) -> str:
        """'GNA window ... (source)' or 'dense: why'."""
        return self.layer_plan.describe()

    @property
    def recipe_window(self) -> str | None:
        """The recipe's nominal window for this layer (None: dense)."""
        return self.layer_plan.setting.window.describe() if self.layer_plan.sparse else None

    @property
    def ran_window(self) -> str | None:
        """The window its last call ran, "window ... at grid ..." (None: none ran)."""
        return self.resolved.window.at_grid if self.resolved else None

    @property
    def ran_from_recipe(self) -> str | None:
        """How the recipe window became ran_window (clamped, scaled, snapped)."""
        return ("; ".join(self.resolved.window.changes) or None) if self.resolved else None

    @property
    def sparse_calls(self) -> int:
        return self.counts.get(SPARSE, 0)

    @property
    def full_window_calls(self) -> int:
        return self.counts.get(FULL_WINDOW, 0)

    @property
    def dense_calls(self) -> dict[str, int]:
        """Reason -> calls."""
        return {outcome.reason: n for outcome, n in self.counts.items() if outcome.is_dense}

    @property
    def last_window(self) -> str | None:
        """The window as last resolved for the actual grid."""
        return self.resolved.window.describe() if self.resolved else None

    @property
    def last_density(self) -> float | None:
        """Fraction of visual query-key pairs computed."""
        return self.resolved.window.density if self.resolved else None

    @property
    def ran_reference_windows(self) -> list[str]:
        """Reference-image grids of the last call (FLUX.1 Kontext, ...): "window ... at grid ..." each;
        their queries also see every token of the other grids."""
        return [w.at_grid for w in self.resolved.extra] if self.resolved else []

    @property
    def last_estimate(self) -> dict[str, Any] | None:
        """na_accel.commands.estimate for the last window (bounds, tiles)."""
        return self.estimate.to_dict() if self.estimate else None

    @property
    def last_estimate_text(self) -> str | None:
        if self.estimate is None:
            return None
        extra = " (generated image only: reference-image tokens are extra keys)" if self.resolved.extra else ""
        return self.estimate.summary() + extra

    @property
    def gated_dense(self) -> bool:
        """The speed gate ran the last resolved window stock (see dense_calls)."""
        return self.resolved is not None and self.resolved.gated_dense is not None

    @property
    def ran_any(self) -> bool:
        return bool(self.sparse_calls or self.full_window_calls or self.dense_calls)

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _LAYER_KEYS}


_LAYER_KEYS = ("name", "plan", "recipe_window", "ran_window", "ran_from_recipe", "sparse_calls", "full_window_calls",
               "dense_calls", "last_window", "last_density", "ran_reference_windows", "last_estimate",
               "last_estimate_text", "gated_dense")


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
        return "\n\n".join(format_transformer_report(t) for t in self.transformers)


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
        return PatchReport([transformer_report(p, patched=True) for p in patches])
    if recipe is None:
        raise PatchStateError(
            f"describe: {type(obj).__name__} is not patched by na_accel; pass recipe=... for a dry run"
        )
    return PatchReport([transformer_report(p, patched=False) for p in plan_patches(obj, recipe, backend=backend)])


def transformer_report(patch: TransformerPatch, patched: bool) -> TransformerReport:
    """The report of one transformer's patch (or of anything holding the same fields: a ComfyUI patch)."""
    layers = []
    for name, plan in patch.plans.items():
        report = LayerReport(plan)
        route = patch.routes.get(name)
        if route is not None:
            report.counts = route.counts  # one consistent snapshot while other threads may run
            report.resolved = route.windows.last  # read once: other threads may resolve new windows meanwhile
            if report.resolved is not None:
                report.estimate = _estimate(patch.backend_choice, report.resolved)
        layers.append(report)
    recipe = patch.recipe
    ran = any(layer.ran_any for layer in layers)
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


def _estimate(choice: BackendChoice, resolved: ResolvedWindows) -> WindowEstimate:
    """The estimate (density, FLOP / tile bounds, block-sparsity) of a route's last window, on the
    tiles ``snap: auto`` would snap it to."""
    context = choice.tiles_for(resolved.backend, resolved.device, resolved.dtype)
    try:
        tiles = snap_tiles(SnapSpec(SNAP_AUTO), resolved.grid, context)
    except NaAccelError:
        tiles = None
    return estimate_window(resolved.window, tiles)


def _counted(texts: list[str]) -> str:
    """'a (2 layers), b (1 layer)': distinct texts in first-seen order, with how many layers each."""
    counts = Counter(texts)
    return ", ".join(f"{text} ({n} layer{'s' if n != 1 else ''})" for text, n in counts.items())


def _window_lines(t: TransformerReport) -> list[str]:
    """The windows that ran (what the kernel computed at the grids seen), then the recipe's nominal ones."""
    ran = [layer.ran_window for layer in t.layers if layer.ran_window]
    if ran:
        ran_text = _counted(ran)
    elif any(layer.ran_any for layer in t.layers):
        ran_text = "none: every call so far ran dense (see totals)"
    else:
        ran_text = "nothing has run yet"
    recipe = _counted([layer.recipe_window or "dense" for layer in t.layers])
    return [f"  windows run: {ran_text}", f"  recipe windows: {recipe}"]


def format_transformer_report(t: TransformerReport) -> str:
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
