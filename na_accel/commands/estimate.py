"""Say in advance what a recipe buys: density, FLOP bound, tile-level bound, end-to-end estimate.

``na-accel estimate --recipe R --model flux --height 4096 --width 4096 [--backend hopper-fna]``

Per layer (layers with the same window are one row): the token grid, the window after
scaling / clamping / snapping, the attention density (fraction of visual query-key pairs
computed), the FLOP-bound speedup (1 / density), the tile-level bound for the backend's tiles
(``na_accel.kernels.tilecount``: dense attention's (q tile, kv tile) pairs over the pairs the FNA kernel
visits, partly masked and padded tiles included), whether the window is perfectly block-sparse,
and an end-to-end *estimate* from an attention share of the denoising time.

Nothing here is measured: the bounds are upper bounds on the attention kernel's speedup over
dense attention with the same tile sizes, and the end-to-end figure is Amdahl's law on an
attention share (``--attention-share``, e.g. from ``na-accel bench``; by default an analytic FLOP
share, which overstates attention's share of time when the rest of the model runs less
efficiently, and ignores VAE, text encoders and memory-bound overheads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..families.registry import check_recipe_family, family_spec, supported_families
from ..kernels.tiles import DEFAULT_TILE_BACKEND, TileShape, check_tile_backend, dtype_bits, pick_tiles
from ..kernels.window_cost import WindowEstimate, estimate_window, joint_speedup_bound
from ..plan import check_rules_decide, plan_layers
from ..recipe.parse import load_recipe
from ..recipe.scaling import SnapContext
from ..speed.model import CostEstimate
from ..windows import effective_axes, format_axes
from .estimate_speed import add_cost_model, cost_profile
from ..models.family_model import FamilyModel, attention_flop_share, family_model  # noqa: F401 (re-exported)
from ..inputs.sizes import MAX_HEAD_DIM, MAX_STEPS, check_count, check_fraction

# ---------------------------------------------------------------------------------------------
# A recipe on a model family at a resolution
# ---------------------------------------------------------------------------------------------


@dataclass
class EstimateRow:
    source: str  # "default", a rule label, or "dense: ..."
    layers: list[str]
    estimate: WindowEstimate | None  # None: the layer stays dense (recipe)
    joint_speedup: float = 1.0  # speedup of the layer's whole joint attention (text included)
    cost: CostEstimate | None = None  # the cost model's seconds on the profile's device (None: no constants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "layer_count": len(self.layers),
            "layers": self.layers,
            "window": self.estimate.to_dict() if self.estimate else None,
            "joint_attention_speedup_bound": self.joint_speedup,
            "cost_model": self.cost.to_dict() if self.cost else None,
            "speed_gate": None if self.cost is None else ("sparse" if self.cost.sparse_pays else "stock"),
        }


@dataclass
class RecipeEstimate:
    recipe: str
    recipe_hash: str
    model: str
    height: int
    width: int
    frames: int | None
    grid: tuple[int, ...]
    backend: str
    head_dim: int
    dtype: str
    tiles: TileShape | None
    rows: list[EstimateRow]
    attention_share: float
    attention_share_source: str
    steps: int
    dense_steps: int
    text_tokens: int
    attention_speedup: float = 1.0  # over all layers and steps, tile-bound based
    end_to_end: float = 1.0
    notes: list[str] = field(default_factory=list)
    cost_profile: str | None = None  # whose measured constants the cost model used (None: none apply)
    modelled_attention_speedup: float | None = None  # the cost model's, speed gate applied
    modelled_end_to_end: float | None = None

    def __str__(self) -> str:
        return format_estimate(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "recipe_hash": self.recipe_hash,
            "model": self.model,
            "height": self.height,
            "width": self.width,
            "frames": self.frames,
            "token_grid": list(self.grid),
            "backend": self.backend,
            "head_dim": self.head_dim,
            "dtype": self.dtype,
            "tiles": self.tiles.to_dict() if self.tiles else None,
            "text_tokens": self.text_tokens,
            "steps": self.steps,
            "dense_steps": self.dense_steps,
            "attention_share": self.attention_share,
            "attention_share_source": self.attention_share_source,
            "attention_speedup_estimate": self.attention_speedup,
            "end_to_end_speedup_estimate": self.end_to_end,
            "cost_profile": self.cost_profile,
            "modelled_attention_speedup": self.modelled_attention_speedup,
            "modelled_end_to_end_speedup": self.modelled_end_to_end,
            "rows": [row.to_dict() for row in self.rows],
            "notes": self.notes,
        }


def estimate_recipe(
    recipe: Any,
    *,
    model: str | None = None,
    height: int | None = None,
    width: int | None = None,
    frames: int | None = None,
    backend: str = DEFAULT_TILE_BACKEND,
    head_dim: int | None = None,
    dtype: str = "bfloat16",
    q_tile: Sequence[int] | None = None,
    kv_tile: Sequence[int] | None = None,
    attention_share: float | None = None,
    steps: int | None = None,
    device: str | None = None,
) -> RecipeEstimate:
    """Estimate ``recipe`` for ``model`` at height x width (x frames) pixels on ``backend``'s tiles.

    ``device``: the GPU name whose cost profile prices the calls (``na_accel.speed``; default: this
    machine's GPU, else the first shipped profile)."""
    recipe = load_recipe(recipe)
    if isinstance(model, str) and model not in supported_families():  # a model name of bench / compare: its family
        from ..models.model_list import model_family  # the model list, only where a model name is given
        model = model_family(model)
    model = recipe.model if model is None else model
    geometry = family_spec(model).geometry  # unknown families: ArgumentError listing the known ones
    check_recipe_family(recipe.model, model, f"model: recipe {recipe.name or '<inline>'}", "the estimate's model")
    check_tile_backend(backend)
    height = geometry.default_height if height is None else height
    width = geometry.default_width if width is None else width
    grid = geometry.token_grid(height, width, frames, name=model)  # the size check bench / compare / demo use
    if geometry.is_video and frames is None:
        frames = geometry.default_frames
    family = family_model(model)
    head_dim = check_count("head_dim", family.head_dim if head_dim is None else head_dim, 1, MAX_HEAD_DIM)
    bits = dtype_bits(dtype)
    steps = check_count("steps", family.default_steps if steps is None else steps, 1, MAX_STEPS)
    if attention_share is not None:
        attention_share = check_fraction("attention_share", attention_share)

    rank = len(effective_axes(grid))
    tiles = pick_tiles(backend, rank, head_dim, bits, q_tile, kv_tile) if rank else None
    context = SnapContext(backend, head_dim, bits, tiles)

    rows: dict[str, EstimateRow] = {}
    n_visual = math.prod(grid)
    n_text = family.text_tokens
    plans = plan_layers(recipe, family.layers)
    check_rules_decide(recipe, list(plans.values()), f"{model} ({family.source})")
    for name, plan in plans.items():
        if not plan.sparse:
            label = plan.describe()  # "dense: recipe <rule>"
            rows.setdefault(label, EstimateRow(label, [], None)).layers.append(name)
            continue
        setting = plan.setting
        if setting.source not in rows:
            window = recipe.resolve(setting.window, grid, context)
            estimate = estimate_window(window, tiles)
            bound = min(estimate.flop_bound, estimate.tile_bound or estimate.flop_bound)
            rows[setting.source] = EstimateRow(
                setting.source, [], estimate, joint_speedup_bound(n_visual, n_text, bound)
            )
        rows[setting.source].layers.append(name)

    profile, profile_note = cost_profile(device, dtype)
    measured = profile.measured_share(model, grid) if profile is not None else None
    if attention_share is not None:
        share, share_source = float(attention_share), "given (--attention-share)"
    elif measured is not None:
        share, share_source = measured.share, f"measured on {profile.device}: {measured.source}"
    else:
        share = attention_flop_share(model, n_visual)
        share_source = ("only analytic: FLOP share (attention 4*S^2*hidden per layer vs 2*params*S), not "
                        "measured for this family and size; pass --attention-share from na-accel bench")
    dense_steps = recipe.dense_step_count(steps)
    sparse_fraction = (steps - dense_steps) / steps
    n_layers = len(family.layers)
    mean_inverse = sum(len(r.layers) / r.joint_speedup for r in rows.values()) / n_layers
    attention_time = (1 - sparse_fraction) + sparse_fraction * mean_inverse
    result = RecipeEstimate(
        recipe=recipe.name or "<inline>",
        recipe_hash=recipe.hash,
        model=model,
        height=height,
        width=width,
        frames=frames,
        grid=grid,
        backend=backend if tiles is None or tiles.backend != "explicit" else "explicit",
        head_dim=head_dim,
        dtype=str(dtype),
        tiles=tiles,
        rows=list(rows.values()),
        attention_share=share,
        attention_share_source=share_source,
        steps=steps,
        dense_steps=dense_steps,
        text_tokens=n_text,
        attention_speedup=1.0 / attention_time,
        end_to_end=1.0 / ((1.0 - share) + share * attention_time),
    )
    add_cost_model(result, profile, profile_note, family, n_text, sparse_fraction, n_layers)
    result.notes.append(
        "FLOP and tile bounds are for the visual self attention (NATTEN's figures); the attention and "
        f"end-to-end estimates also count {n_text} text tokens (dense), dense layers and dense steps, "
        "and use the smaller of the two bounds per layer."
    )
    return result


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def format_estimate(result: RecipeEstimate) -> str:
    frames = f" x {result.frames} frames" if result.frames is not None else ""
    tiles = result.tiles.describe() if result.tiles else "none (grid of single tokens)"
    lines = [
        f"recipe {result.recipe} [{result.recipe_hash}] on {result.model} at {result.height}x{result.width} "
        f"pixels{frames} -> token grid {format_axes(result.grid)} ({math.prod(result.grid)} visual tokens, "
        f"{result.text_tokens} text)",
        f"tiles: {tiles}, head_dim {result.head_dim}, {result.dtype}",
        "",
    ]
    header = ["layers", "window", "stride", "dilation", "density", "FLOP bound", "tile bound",
              "block-sparse", "resolution"]
    table = [header]
    for row in result.rows:
        label = f"{row.source} ({len(row.layers)})"
        e = row.estimate
        if e is None:
            table.append([label, "dense", "", "", "100%", "1.0x", "1.0x", "", ""])
            continue
        w = e.window
        how = [w.scaled or ""]
        if w.snapped:
            snapped = "snapped" if w.snapped.startswith("snapped") else w.snapped
            if w.requested and w.requested != (w.kernel_size, w.stride):
                snapped += f" from {format_axes(w.requested[0])}/{format_axes(w.requested[1])}"
            elif w.requested:
                snapped += " (unchanged)"
            how.append(snapped)
        if w.clamped_axes:
            how.append(f"clamped axes {list(w.clamped_axes)}")
        table.append([
            label,
            format_axes(w.kernel_size),
            format_axes(w.stride),
            format_axes(w.dilation),
            f"{e.density:.1%}",
            f"{e.flop_bound:.1f}x",
            "-" if e.tile_bound is None else f"{e.tile_bound:.1f}x",
            "dense" if e.dense else ("-" if e.block_sparse is None else ("yes" if e.block_sparse else "no")),
            "; ".join(h for h in how if h) or "as written",
        ])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    lines += [
        "",
        f"attention share of denoising time: {result.attention_share:.0%} ({result.attention_share_source})",
        f"dense steps: {result.dense_steps} of {result.steps}",
        f"ESTIMATE (not a measurement): attention speed-up bound on {result.backend} tiles "
        f"{result.attention_speedup:.2f}x, end-to-end speed-up bound {result.end_to_end:.2f}x (from the tile bounds: "
        "upper bounds)",
    ]
    if result.modelled_attention_speedup is not None:
        lines.append(f"cost model ({result.cost_profile}):")
        for row in result.rows:
            if row.cost is not None:
                gate = "sparse" if row.cost.sparse_pays else "stock (speed gate: sparse would not pay)"
                lines.append(f"  {row.source} ({len(row.layers)}): {row.cost.describe()}, "
                             f"{row.cost.speedup:.2f}x -> runs {gate}")
        lines.append(f"ESTIMATE from measured constants: attention speed-up {result.modelled_attention_speedup:.2f}x, "
                     f"end-to-end speed-up {result.modelled_end_to_end:.2f}x (cost model, speed gate applied)")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


__all__ = [
    "FamilyModel",
    "RecipeEstimate",
    "attention_flop_share",
    "estimate_recipe",
    "family_model",
    "format_estimate",
]
