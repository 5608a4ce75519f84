"""describe(obj): per attention layer, GNA settings or dense and why, and what actually ran."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import NaAccelError, PatchStateError
from .patch import FULL_WINDOW, SPARSE, TransformerPatch, patches_of, plan_patches


@dataclass
class LayerReport:
    name: str
    plan: str  # "GNA window ... (source)" or "dense: why"
    sparse_calls: int = 0
    full_window_calls: int = 0
    dense_calls: dict[str, int] = field(default_factory=dict)  # reason -> count
    last_window: str | None = None  # the window as last resolved for the actual grid
    last_density: float | None = None  # fraction of visual query-key pairs computed
    last_estimate: dict[str, Any] | None = None  # na_accel.estimate for the last window (bounds, tiles)
    last_estimate_text: str | None = None

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
    backend_requested: str
    backend: str | None  # resolved at patch time (None when no layer is sparse)
    backends_used: dict[str, str]  # per device/dtype seen at run time
    backends_passed_over: dict[str, str]  # faster backends (auto's order) that could not run, and why
    patched: bool  # False for a dry run (describe with a recipe on an unpatched object)
    layers: list[LayerReport]

    @property
    def totals(self) -> Counter:
        total: Counter = Counter()
        for layer in self.layers:
            total["sparse"] += layer.sparse_calls
            total["full window"] += layer.full_window_calls
            for reason, count in layer.dense_calls.items():
                total[f"dense: {reason}"] += count
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
        report = LayerReport(name=name, plan=plan.describe())
        route = patch.routes.get(name)
        if route is not None:
            report.sparse_calls = route.counts.get(SPARSE, 0)
            report.full_window_calls = route.counts.get(FULL_WINDOW, 0)
            report.dense_calls = {
                key[len("dense: "):]: count for key, count in route.counts.items() if key.startswith("dense: ")
            }
            if route.last_window is not None:
                report.last_window = route.last_window.describe()
                report.last_density = route.last_window.density
                estimate = _estimate(patch, route)
                if estimate is not None:
                    report.last_estimate = estimate.to_dict()
                    report.last_estimate_text = estimate.summary()
        layers.append(report)
    recipe = patch.recipe
    return TransformerReport(
        attribute=patch.attribute,
        model_class=type(patch.transformer).__name__,
        recipe=recipe.name or "<inline>",
        recipe_hash=recipe.hash,
        recipe_source=recipe.source,
        dense_steps=recipe.dense_steps,
        backend_requested=patch.requested_backend,
        backend=patch.backend,
        backends_used=patch.backends_used,
        backends_passed_over=patch.passed_over,
        patched=patched,
        layers=layers,
    )


def _estimate(patch: TransformerPatch, route):
    """The estimate (density, FLOP / tile bounds, block-sparsity) of the route's last window."""
    from .estimate import estimate_window
    from .scaling import SnapContext, SnapSpec, effective_axes, snap_tiles

    grid, backend, device, dtype = route.last_key
    window = route.last_window
    tiles = None
    tile_backend = patch.tile_backend(backend, device, dtype)
    if tile_backend is not None and effective_axes(grid):
        context = SnapContext(tile_backend, patch.target.head_dim, torch.finfo(dtype).bits)
        try:
            tiles = snap_tiles(SnapSpec(tile_backend), grid, context)
        except NaAccelError:
            tiles = None
    return estimate_window(window, tiles)


def _format_transformer(t: TransformerReport) -> str:
    status = "patched" if t.patched else "dry run (not patched)"
    lines = [
        f"{t.attribute} ({t.model_class}) — {status}",
        f"  recipe {t.recipe} [{t.recipe_hash}], dense_steps={t.dense_steps}, "
        f"backend {t.backend_requested} -> {t.backend or 'none needed (no sparse layer)'}",
        f"  recipe loaded from {t.recipe_source}",
    ]
    for name, reason in t.backends_passed_over.items():
        lines.append(f"  not {name}: {reason}")
    if t.backends_used:
        lines.append("  backends used: " + ", ".join(f"{k}: {v}" for k, v in t.backends_used.items()))
    name_width = max(len(layer.name) for layer in t.layers)
    for layer in t.layers:
        line = f"  {layer.name:<{name_width}}  {layer.plan}"
        ran = []
        if layer.sparse_calls:
            ran.append(f"{layer.sparse_calls} sparse")
        if layer.full_window_calls:
            ran.append(f"{layer.full_window_calls} full-window")
        ran += [f"{count} dense ({reason})" for reason, count in layer.dense_calls.items()]
        if ran:
            line += "\n  " + " " * name_width + "  ran: " + ", ".join(ran)
        if layer.last_window:
            line += (
                f"\n  {' ' * name_width}  last call: {layer.last_window}, "
                f"density {layer.last_density:.1%}"
            )
        if layer.last_estimate_text:
            line += f"\n  {' ' * name_width}  estimate: {layer.last_estimate_text}"
        lines.append(line)
    totals = t.totals
    if any(totals.values()):
        lines.append("  totals: " + ", ".join(f"{k}: {v}" for k, v in totals.items() if v))
    return "\n".join(lines)
