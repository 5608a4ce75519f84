"""patch / unpatch: plan every attention layer, check the whole plan, then apply it.

Applying a plan means, per transformer:

* one forward pre-hook (and a post-hook that clears it) reading the token grid, the text length
  and the denoising step from the transformer's inputs into a per-call context;
* one processor swap per layer planned sparse; the original processor is kept for unpatch and
  runs every call that can't be sparse (counted, never silently).
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .kernels import (
    AUTO, REFERENCE, BackendTarget, check_backend_name, dtype_name, faster_unavailable, get_backend,
    resolve_backend,
)
from .errors import BackendUnavailableError, PatchStateError, RecipeError, UnsupportedModelError
from .models import ModelAdapter, TokenLayout, adapter_for, supported_models_text
from .models.registry import FAMILY_AXES
from .recipe import LayerSetting, Recipe, ResolvedWindow, load_recipe
from .scaling import SnapContext, check_snap_tiles

STATE_ATTRIBUTE = "_na_accel_patch"
PIPELINE_TRANSFORMERS = ("transformer", "transformer_2")

SPARSE = "sparse"
FULL_WINDOW = "full window"  # ran through GNA, but the window covered the whole grid (dense math)


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------


@dataclass
class LayerPlan:
    """What the recipe (and the layer's processor) say for one attention layer."""

    name: str
    setting: LayerSetting
    blocked: str | None = None  # why the layer stays stock although the recipe asks for GNA

    @property
    def sparse(self) -> bool:
        return self.setting.window is not None and self.blocked is None

    def describe(self) -> str:
        if self.blocked is not None:
            return f"dense: {self.blocked}"
        if self.setting.window is None:
            return f"dense: recipe {self.setting.source}"
        return f"GNA {self.setting.window.describe()} ({self.setting.source})"


@dataclass
class CallContext:
    """Set by the pre-forward hook for one transformer forward call."""

    layout: TokenLayout
    step: int | None


@dataclass
class SparseCall:
    window: ResolvedWindow
    text_len: int
    text_first: bool
    backend: str
    text_valid_lens: tuple[int, ...] | None = None


@dataclass
class LayerRoute:
    """Per-layer run-time state: decides sparse vs stock per call, and counts what ran."""

    patch: "TransformerPatch"
    plan: LayerPlan
    counts: Counter = field(default_factory=Counter)
    last_window: ResolvedWindow | None = None
    last_key: tuple | None = None  # (grid, backend, device, dtype) last_window was resolved for

    @property
    def name(self) -> str:
        return self.plan.name

    def route(
        self,
        *,
        seq_len: int,
        text_len_seen: int | None,
        unhandled_attention_mask: bool,
        has_parallel_config: bool,
        device: torch.device,
        dtype: torch.dtype,
        mask_text_lens: tuple[int, ...] | None = None,
    ) -> SparseCall | None:
        """A SparseCall to run GNA, or None to run the stock processor (the reason is counted).

        ``mask_text_lens``: the per-row valid text lengths a padding mask the processor was given
        encodes; they must agree with the layout's (read from the transformer's inputs).
        """
        ctx = self.patch.context
        if ctx is None:
            return self.dense("called outside the transformer's forward (no token layout)")
        if ctx.step is not None and ctx.step < self.patch.recipe.dense_steps:
            return self.dense(f"dense step (step < dense_steps={self.patch.recipe.dense_steps})", warn=False)
        layout = ctx.layout
        if layout.grid is None:
            return self.dense(f"no token grid: {layout.problem}")
        if unhandled_attention_mask:
            return self.dense("an attention_mask was passed that the GNA path can't honour")
        if has_parallel_config:
            return self.dense("context parallelism shards the sequence")
        if seq_len != math.prod(layout.grid) + layout.text_len or (
            text_len_seen is not None and text_len_seen != layout.text_len
        ):
            return self.dense(
                f"sequence of {seq_len} tokens does not match grid {layout.grid} + "
                f"{layout.text_len} text tokens"
            )
        if mask_text_lens is not None:
            expected = layout.text_valid_lens or (layout.text_len,) * len(mask_text_lens)
            if tuple(mask_text_lens) != tuple(expected):
                return self.dense(
                    f"the attention mask's valid text lengths {list(mask_text_lens)} differ from the "
                    f"transformer inputs' {list(expected)}"
                )
        backend = self.patch.backend_for(device, dtype)
        if isinstance(backend, BackendUnavailableError):
            return self.dense(
                f"backend {self.patch.requested_backend!r} unavailable on {device} {dtype_name(dtype)}"
            )
        window = self.last_window
        key = (layout.grid, backend, str(device), dtype)
        if window is None or self.last_key != key:  # resolve once per grid (and backend), not per call
            context = self.patch.snap_context(backend, device, dtype)
            window = self.last_window = self.patch.recipe.resolve(self.plan.setting.window, layout.grid, context)
            self.last_key = key
        self.counts[FULL_WINDOW if window.covers_grid else SPARSE] += 1
        return SparseCall(window, layout.text_len, layout.text_first, backend, layout.text_valid_lens)

    def dense(self, reason: str, warn: bool = True) -> None:
        """Count (and warn once about) a call the processor runs stock for ``reason``; returns None."""
        key = f"dense: {reason}"
        self.counts[key] += 1
        if warn and key not in self.patch.warned:
            self.patch.warned.add(key)
            warnings.warn(
                f"na_accel: {self.patch.attribute} layer {self.name} ran dense attention: {reason}. "
                "This and later fallbacks are counted in na_accel.describe(...).",
                stacklevel=4,
            )
        return None


# --------------------------------------------------------------------------------------------
# The patch of one transformer
# --------------------------------------------------------------------------------------------


@dataclass
class TransformerPatch:
    attribute: str  # "transformer", "transformer_2", or the class name for a bare model
    transformer: torch.nn.Module
    adapter: ModelAdapter
    recipe: Recipe
    requested_backend: str
    target: BackendTarget | None
    backend: str | None  # resolved at patch time for ``target``; None when nothing is sparse
    passed_over: dict[str, str]  # backends auto ranks above ``backend`` on ``target``, and why not them
    plans: dict[str, LayerPlan]
    step_reader: Callable[[], int | None] | None
    routes: dict[str, LayerRoute] = field(default_factory=dict)
    originals: dict[str, Any] = field(default_factory=dict)
    hook_handles: list = field(default_factory=list)
    context: CallContext | None = None
    warned: set = field(default_factory=set)
    _backends_by_device: dict = field(default_factory=dict)

    def backend_for(self, device: torch.device, dtype: torch.dtype) -> str | BackendUnavailableError:
        """The backend for this call's tensors; re-resolved if the model moved since patching."""
        key = (str(device), dtype)
        if key not in self._backends_by_device:
            if self.target is not None and (str(self.target.device), self.target.dtype) == key:
                self._backends_by_device[key] = self.backend
            else:
                target = BackendTarget(torch.device(device), dtype, self.target.head_dim, self.target.grid_rank)
                try:
                    self._backends_by_device[key] = resolve_backend(self.requested_backend, target)
                except BackendUnavailableError as exc:
                    self._backends_by_device[key] = exc
        return self._backends_by_device[key]

    def snap_context(self, backend: str, device: torch.device, dtype: torch.dtype) -> SnapContext | None:
        """What ``scaling.snap`` needs: the NATTEN backend whose tiles apply, head_dim, dtype.

        The reference backend has no tiles: it takes those of the backend ``auto`` picks for the
        same device, so it computes exactly what that backend would.
        """
        scaling = self.recipe.scaling
        if scaling is None or scaling.snap is None or self.target is None:
            return None
        return SnapContext(self.tile_backend(backend, device, dtype), self.target.head_dim, torch.finfo(dtype).bits)

    def tile_backend(self, backend: str, device: torch.device, dtype: torch.dtype) -> str | None:
        """The tile table (``na_accel.tiles``) that models ``backend`` (reference: what auto picks here)."""
        if backend != REFERENCE:
            return get_backend(backend).tile_backend
        target = BackendTarget(torch.device(device), dtype, self.target.head_dim, self.target.grid_rank)
        try:
            return get_backend(resolve_backend(AUTO, target)).tile_backend
        except BackendUnavailableError:
            return None

    @property
    def backends_used(self) -> dict[str, str]:
        return {
            f"{device} {dtype_name(dtype)}": b if isinstance(b, str) else "none available"
            for (device, dtype), b in self._backends_by_device.items()
        }

    # -- applying and removing ----------------------------------------------------------------

    def apply(self) -> None:
        modules = dict(self.adapter.attention_layers(self.transformer))
        for name, plan in self.plans.items():
            if not plan.sparse:
                continue
            module = modules[name]
            route = LayerRoute(self, plan)
            self.routes[name] = route
            self.originals[name] = module.processor
            module.set_processor(self.adapter.make_processor(module.processor, route))
        self.hook_handles = [
            self.transformer.register_forward_pre_hook(self._before_forward, with_kwargs=True),
            self.transformer.register_forward_hook(self._after_forward, always_call=True),
        ]
        setattr(self.transformer, STATE_ATTRIBUTE, self)

    def remove(self) -> None:
        modules = dict(self.adapter.attention_layers(self.transformer))
        for name, original in self.originals.items():
            modules[name].set_processor(original)
        for handle in self.hook_handles:
            handle.remove()
        self.hook_handles = []
        self.context = None
        delattr(self.transformer, STATE_ATTRIBUTE)

    # Run eagerly under torch.compile: reading the grid syncs with the device (.item(), equality
    # checks), which would break the graph at the transformer's entry; the processors' routing
    # is plain Python on these results and traces without graph breaks.
    @torch.compiler.disable
    def _before_forward(self, module, args, kwargs):
        layout = self.adapter.token_layout(module, args, kwargs)
        step = self.step_reader() if self.step_reader is not None else None
        self.context = CallContext(layout=layout, step=step)
        return None

    @torch.compiler.disable
    def _after_forward(self, module, args, output):
        self.context = None
        return None


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def patch(obj: Any, recipe: Any, *, backend: str = AUTO) -> Any:
    """Replace the self attention of ``obj``'s transformer(s) with GNA, as ``recipe`` says.

    ``obj`` is a diffusers pipeline (its ``transformer`` and, where present, ``transformer_2`` are
    patched) or a bare supported transformer. ``recipe`` is a shipped recipe name, a path to a
    .yaml/.json file, a dict or a ``Recipe``. ``backend`` is ``"auto"``, ``"reference"`` or a
    NATTEN backend name, or "triton" (na_accel's fused Triton kernel). Everything is checked before anything changes. Returns ``obj``.
    """
    patches = plan_patches(obj, recipe, backend=backend)
    for transformer_patch in patches:
        transformer_patch.apply()
    return obj


def plan_patches(obj: Any, recipe: Any, *, backend: str = AUTO) -> list[TransformerPatch]:
    """Everything ``patch`` checks and decides, without changing ``obj``."""
    recipe = load_recipe(recipe)
    check_backend_name(backend)
    pipeline, targets = _find_transformers(obj)
    patches = []
    for attribute, transformer in targets:
        adapter = adapter_for(transformer, where=attribute)
        if recipe.model != adapter.family:
            raise RecipeError(
                f"recipe.model: {recipe.model!r} does not match {attribute} "
                f"({type(transformer).__name__}), whose recipes use model {adapter.family!r}"
            )
        if hasattr(transformer, STATE_ATTRIBUTE):
            raise PatchStateError(
                f"{attribute} ({type(transformer).__name__}) is already patched by na_accel; "
                "call na_accel.unpatch(...) first to patch it with another recipe"
            )
        patches.append(_plan_transformer(attribute, transformer, adapter, recipe, backend, pipeline))
    return patches


def unpatch(obj: Any) -> Any:
    """Restore the original processors and remove every hook na_accel added. Returns ``obj``."""
    _, targets = _find_transformers(obj)
    states = [getattr(t, STATE_ATTRIBUTE, None) for _, t in targets]
    if not any(states):
        raise PatchStateError(f"{type(obj).__name__} is not patched by na_accel; nothing to unpatch")
    for state in states:
        if state is not None:
            state.remove()
    return obj


def patches_of(obj: Any) -> list[TransformerPatch]:
    """The TransformerPatch of every patched transformer of ``obj`` (empty if none)."""
    _, targets = _find_transformers(obj)
    return [getattr(t, STATE_ATTRIBUTE) for _, t in targets if hasattr(t, STATE_ATTRIBUTE)]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _find_transformers(obj: Any) -> tuple[Any, list[tuple[str, torch.nn.Module]]]:
    """(pipeline or None, [(attribute, transformer)]) for a pipeline or a bare transformer."""
    if isinstance(obj, torch.nn.Module):
        model = _unwrap_compiled(obj)
        return None, [(type(model).__name__, model)]
    components = getattr(obj, "components", None)
    if isinstance(components, dict):
        found = [
            (name, _unwrap_compiled(components[name]))
            for name in PIPELINE_TRANSFORMERS
            if components.get(name) is not None
        ]
        if not found:
            raise UnsupportedModelError(
                f"{type(obj).__name__} has no 'transformer' component; na_accel patches diffusion "
                f"transformers: {supported_models_text()}"
            )
        return obj, found
    raise UnsupportedModelError(
        f"expected a diffusers pipeline or a transformer model, got {type(obj).__name__}; "
        f"supported: {supported_models_text()}"
    )


def _unwrap_compiled(module: Any) -> Any:
    """torch.compile wraps a model in an OptimizedModule; patch the model it wraps."""
    return getattr(module, "_orig_mod", module)


def _plan_transformer(
    attribute: str,
    transformer: torch.nn.Module,
    adapter: ModelAdapter,
    recipe: Recipe,
    backend: str,
    pipeline: Any,
) -> TransformerPatch:
    plans = {}
    for name, module in adapter.attention_layers(transformer):
        setting = recipe.setting_for(name)
        blocked = adapter.unsupported_processor_reason(module) if setting.window is not None else None
        plans[name] = LayerPlan(name, setting, blocked)
    if not plans:
        raise UnsupportedModelError(f"{attribute}: no attention layers found to patch")

    target = resolved = None
    passed_over: dict[str, str] = {}
    if any(plan.sparse for plan in plans.values()):
        parameter = next(transformer.parameters())
        target = BackendTarget(
            device=parameter.device,
            dtype=parameter.dtype,
            head_dim=adapter.head_dim(transformer),
            grid_rank=len(FAMILY_AXES[recipe.model]),
        )
        resolved = resolve_backend(backend, target)
        passed_over = faster_unavailable(resolved, target)
        check_snap_tiles(recipe.scaling, target.head_dim, target.grid_rank)

    return TransformerPatch(
        attribute=attribute,
        transformer=transformer,
        adapter=adapter,
        recipe=recipe,
        requested_backend=backend,
        target=target,
        backend=resolved,
        passed_over=passed_over,
        plans=plans,
        step_reader=_step_reader(pipeline, recipe, attribute),
    )


def _step_reader(pipeline: Any, recipe: Recipe, attribute: str) -> Callable[[], int | None] | None:
    """Reads the denoising step from ``pipeline.scheduler.step_index`` (None in step 0 -> 0).

    Counting forward calls would break with classifier-free guidance (two calls per step).
    """
    if pipeline is None:
        if recipe.dense_steps:
            raise RecipeError(
                f"recipe.dense_steps: {recipe.dense_steps} needs the denoising step, which na_accel "
                f"reads from a pipeline's scheduler; patch the pipeline instead of the bare "
                f"{attribute}, or set dense_steps to 0"
            )
        return None
    scheduler = getattr(pipeline, "scheduler", None)
    if recipe.dense_steps and not _has_step_index(scheduler):
        raise RecipeError(
            f"recipe.dense_steps: {recipe.dense_steps} needs scheduler.step_index, which "
            f"{type(scheduler).__name__} does not have; set dense_steps to 0"
        )
    pipeline_ref = weakref.ref(pipeline)

    def read_step() -> int | None:
        pipe = pipeline_ref()
        return denoising_step(pipe) if pipe is not None else None

    return read_step


def denoising_step(pipeline: Any) -> int | None:
    """The pipeline's current denoising step: ``scheduler.step_index`` (None during step 0, so 0),
    or None when its scheduler has no step index."""
    scheduler = getattr(pipeline, "scheduler", None)
    if not _has_step_index(scheduler):
        return None
    step = scheduler.step_index
    return 0 if step is None else int(step)


def _has_step_index(scheduler: Any) -> bool:
    return scheduler is not None and "step_index" in dir(type(scheduler))


__all__ = ["patch", "unpatch", "plan_patches", "patches_of", "TransformerPatch", "LayerRoute", "LayerPlan"]
