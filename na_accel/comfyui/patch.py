"""GNA on a ComfyUI model: ``patch_model`` returns a patched ``ModelPatcher.clone()``.

ComfyUI's clones share one diffusion model; what makes a clone differ are its options and
wrappers, which ComfyUI applies only while that clone samples. ``patch_model`` therefore changes
nothing on the model itself: it plans the family's layers with the recipe (every check before
anything changes, as ``na_accel.patch``), then gives the clone

* the attention override (``na_accel.comfyui.attention``): the seam every attention call meets;
* a DIFFUSION_MODEL wrapper: per call of the diffusion model, the token layout read from its
  inputs and the dense-step decision (``schedule.py``) become that call's context (per thread,
  ``na_accel.runtime.context``), and for the duration of the call each planned block gets a
  forward hook pair telling the override which layer is attending (removed when the call ends:
  outside its own calls the model carries nothing of na_accel; a hook firing in another thread's
  call, of another clone, sets only this patch's state of that thread, which that call never reads);
* an OUTER_SAMPLE wrapper that logs what ran in each sampling run.

The input model is untouched; any number of patched clones coexist, each with its own routes and
counters. ``describe_model`` reports a patched clone like ``na_accel.describe``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import Counter
from typing import Any

import torch

from ..errors import ArgumentError, PatchStateError, UnsupportedModelError
from ..families import check_recipe_family, family_geometry
from ..kernels import AUTO, BackendTarget, check_backend_name
from ..patch_report import TransformerReport, format_transformer_report, transformer_report
from ..pipeline_parts import unwrap_compiled
from ..plan import LayerPlan, check_rules_decide, plan_layers
from ..recipe.checks import SPEED_GATES
from ..recipe.model import Recipe
from ..recipe.parse import load_recipe
from ..recipe.scaling import check_snap_tiles
from ..runtime import BackendChoice, LayerRoute, RouteState
from ..speed import SpeedGate
from .attention import OVERRIDE_KEY, AttentionOverride
from .families import COMFY_FAMILIES, comfy_family_for
from .family import ComfyFamily, comfy_forward_arguments
from .schedule import DenseSchedule, check_percents

WRAPPER_KEY = "na_accel"
RECIPE_SPEED_GATE = "recipe"  # the node's speed_gate choice that keeps the recipe's own
DIFFUSION_MODEL, OUTER_SAMPLE = "diffusion_model", "outer_sample"  # comfy.patcher_extension.WrappersMP
log = logging.getLogger("na_accel")


class ComfyPatch:
    """One patched ComfyUI model: its plan, routes, dense schedule and the wrappers ComfyUI calls.

    Shared by every clone made from the patched one (``ModelPatcher.clone`` deep-copies options:
    copies of this object are this object)."""

    attribute = "diffusion_model"

    def __init__(self, family: ComfyFamily, diffusion_model: torch.nn.Module, recipe: Recipe,
                 backend_choice: BackendChoice, plans: dict[str, LayerPlan], schedule: DenseSchedule) -> None:
        self.family = family
        self.transformer = diffusion_model
        self.recipe = recipe
        self.backend_choice = backend_choice
        self.plans = plans
        self.schedule = schedule
        self.gate = SpeedGate(recipe.speed_gate, family.attention_shape(diffusion_model)[0])
        self.routing = RouteState(f"ComfyUI {type(diffusion_model).__name__}", recipe, backend_choice, self.gate)
        self.blocks = {name: block for name, _, block in family.layers(diffusion_model)}
        self.routes = {name: LayerRoute(self.routing, plan) for name, plan in plans.items() if plan.sparse}
        self._calling = threading.local()  # per thread: [route, attention calls so far] of the block running

    def __deepcopy__(self, memo: dict) -> "ComfyPatch":
        return self

    # -- what the override asks ---------------------------------------------------------------

    def calling_route(self, self_attention_call: int) -> LayerRoute | None:
        """The route of the planned block running in this thread if this attention call is its self
        attention (the ``self_attention_call``-th of the block), else None: run it stock, uncounted."""
        current = getattr(self._calling, "layer", None)
        if current is None:
            return None
        ordinal, current[1] = current[1], current[1] + 1
        return current[0] if ordinal == self_attention_call else None

    # -- the wrappers ComfyUI calls -------------------------------------------------------------

    def wrap_diffusion_model(self, executor: Any, *args: Any, **kwargs: Any) -> Any:
        """DIFFUSION_MODEL wrapper: one call of the diffusion model, with its context and block hooks."""
        model = getattr(executor, "class_obj", None)
        if unwrap_compiled(model) is not self.transformer:  # not the model this patch planned: leave it alone
            return executor(*args, **kwargs)
        handles = self._begin_call(model, args, kwargs)
        try:
            return executor(*args, **kwargs)
        finally:
            self._end_call(handles)

    # Eager under torch.compile (ComfyUI's compile node compiles the diffusion model around this
    # wrapper): reading the layout and the sigmas syncs with the device, as in patching.py.
    @torch.compiler.disable
    def _begin_call(self, model: torch.nn.Module, args: tuple, kwargs: dict) -> list:
        inputs = comfy_forward_arguments(model, args, kwargs)
        step, dense_reason = self.schedule.decide(inputs.get("transformer_options") or {})
        self.routing.contexts.begin(self.family.token_layout(model, inputs), step, dense_reason)
        handles = []
        try:
            for name, route in self.routes.items():
                block = self.blocks[name]
                handles.append(block.register_forward_pre_hook(functools.partial(self._enter_block, route)))
                handles.append(block.register_forward_hook(self._leave_block, always_call=True))
        except BaseException:
            self._end_call(handles)
            raise
        return handles

    @torch.compiler.disable
    def _end_call(self, handles: list) -> None:
        for handle in handles:
            handle.remove()
        self._calling.layer = None
        self.routing.contexts.end()
        for route in self.routes.values():
            route.commit()

    def _enter_block(self, route: LayerRoute, module: torch.nn.Module, args: tuple) -> None:
        self._calling.layer = [route, 0]

    def _leave_block(self, module: torch.nn.Module, args: tuple, output: Any) -> None:
        self._calling.layer = None

    def wrap_outer_sample(self, executor: Any, *args: Any, **kwargs: Any) -> Any:
        """OUTER_SAMPLE wrapper: logs what this sampling run's attention calls ran."""
        before = self.totals()
        try:
            return executor(*args, **kwargs)
        finally:
            ran = self.totals() - before
            if ran:
                log.info("na_accel GNA (%s, recipe %s): %s", self.family.name, self.recipe.name or "<inline>",
                         ", ".join(f"{outcome}: {n}" for outcome, n in ran.items()))
            elif self.routes:  # not one planned call reached the override: nothing ran GNA, say so
                log.warning("na_accel GNA (%s, recipe %s): no attention call of this sampling run reached na_accel "
                            "(another node replaced ComfyUI's attention override after the GNA node, or the "
                            "model's blocks did not run): it ran as stock", self.family.name,
                            self.recipe.name or "<inline>")

    def totals(self) -> Counter:
        total: Counter = Counter()
        for route in self.routes.values():
            total.update({str(outcome): n for outcome, n in route.counts.items()})
        return total

    # -- reporting -------------------------------------------------------------------------------

    def report(self) -> TransformerReport:
        return transformer_report(self, patched=True)

    def describe(self) -> str:
        schedule = self.schedule
        window = ("the whole schedule" if schedule.start_percent == 0 and schedule.end_percent == 1
                  else f"from {schedule.start_percent:g} to {schedule.end_percent:g} of the schedule")
        names = ", ".join(f"{stack.layer_name.format('i')} = {stack.attribute}.i" for stack in self.family.blocks)
        header = (f"ComfyUI {self.family.description}: GNA {window} (node start_percent / end_percent), "
                  f"and as the recipe's dense steps say; layers by their diffusers names ({names})")
        return header + "\n" + format_transformer_report(self.report())


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def patch_model(model: Any, recipe: Any, *, backend: str = AUTO, start_percent: float = 0.0,
                end_percent: float = 1.0, speed_gate: str = RECIPE_SPEED_GATE) -> Any:
    """A clone of ComfyUI's ``model`` (a ``ModelPatcher``) whose self attention runs GNA as ``recipe`` says.

    ``recipe``: a shipped recipe name, a .yaml / .json path, a dict or a ``Recipe`` of the model's
    family. ``backend``: as for ``na_accel.patch``. GNA runs between ``start_percent`` and
    ``end_percent`` of the sampling schedule (ComfyUI's terms; dense outside) and outside the
    recipe's dense steps. ``speed_gate``: "recipe" (the recipe's), "auto", "sparse" or "dense".
    Everything is checked before the clone is made; ``model`` itself is never changed.
    """
    recipe = load_recipe(recipe)
    check_backend_name(backend)
    start_percent, end_percent = check_percents(start_percent, end_percent)
    if speed_gate != RECIPE_SPEED_GATE:
        if speed_gate not in SPEED_GATES:
            raise ArgumentError(f"speed_gate: {speed_gate!r} is not valid; allowed: "
                                f"{[RECIPE_SPEED_GATE, *SPEED_GATES]}")
        recipe = dataclasses.replace(recipe, speed_gate=speed_gate)
    diffusion_model = _diffusion_model(model)
    _check_attention_override()
    family = comfy_family_for(diffusion_model)
    if family is None:
        raise UnsupportedModelError(
            f"ComfyUI model {type(diffusion_model).__module__}.{type(diffusion_model).__qualname__} is not supported "
            f"by na_accel's GNA node; supported: {supported_text()} (docs/comfyui.md)")
    where = f"ComfyUI {type(diffusion_model).__name__}"
    check_recipe_family(recipe.model, family.name, f"recipe.model: {recipe.name or '<inline>'}", where)
    if patch_of(model) is not None:
        raise PatchStateError(f"{where} is already patched by na_accel (a GNA node upstream); connect this node to "
                              "the unpatched model to patch it with another recipe")
    plans = plan_layers(recipe, [name for name, _, _ in family.layers(diffusion_model)])
    if not plans:
        raise UnsupportedModelError(f"{where}: no attention blocks found to patch")
    check_rules_decide(recipe, list(plans.values()), where)
    heads, head_dim = family.attention_shape(diffusion_model)
    target = None
    if any(plan.sparse for plan in plans.values()):
        target = BackendTarget(device=torch.device(model.load_device), dtype=_compute_dtype(model),
                               head_dim=head_dim, grid_rank=len(family_geometry(family.name).axes))
        check_snap_tiles(recipe.scaling, head_dim, target.grid_rank)
    schedule = DenseSchedule.for_model(recipe, model.get_model_object("model_sampling"), start_percent, end_percent)
    patch = ComfyPatch(family, diffusion_model, recipe, BackendChoice(backend, target), plans, schedule)

    clone = model.clone()  # from here on only the clone changes
    options = clone.model_options.setdefault("transformer_options", {})
    options[OVERRIDE_KEY] = AttentionOverride(patch, previous=options.get(OVERRIDE_KEY))
    clone.add_wrapper_with_key(DIFFUSION_MODEL, WRAPPER_KEY, patch.wrap_diffusion_model)
    clone.add_wrapper_with_key(OUTER_SAMPLE, WRAPPER_KEY, patch.wrap_outer_sample)
    return clone


def patch_of(model: Any) -> ComfyPatch | None:
    """The ComfyPatch in force on ComfyUI ``model`` (its attention override is na_accel's), or None."""
    options = getattr(model, "model_options", {}).get("transformer_options", {})
    override = options.get(OVERRIDE_KEY)
    return override.patch if isinstance(override, AttentionOverride) else None


def describe_model(model: Any) -> str:
    """What na_accel does to a patched ComfyUI model: the plan per layer and what its calls ran."""
    patch = patch_of(model)
    if patch is None:
        raise PatchStateError("describe_model: this ComfyUI model is not patched by na_accel (no GNA node applied)")
    return patch.describe()


def supported_text() -> str:
    return "; ".join(f.description for f in COMFY_FAMILIES)


def _diffusion_model(model: Any) -> torch.nn.Module:
    get = getattr(model, "get_model_object", None)
    if get is None:
        raise UnsupportedModelError(f"expected a ComfyUI MODEL (a ModelPatcher), got {type(model).__name__}")
    return unwrap_compiled(get("diffusion_model"))


def _check_attention_override() -> None:
    """The ComfyUI running has the attention override the node works through (ComfyUI's attention
    wrapper, ``wrap_attn``): an older one would never call it, and the node would change nothing."""
    import importlib

    attention = importlib.import_module("comfy.ldm.modules.attention")
    if not hasattr(attention, "wrap_attn"):
        raise UnsupportedModelError("this ComfyUI's attention has no optimized_attention_override (comfy.ldm.modules."
                                    "attention.wrap_attn), which the GNA node works through; update ComfyUI "
                                    "(tested with commit a125cd8, 2025-10-12, and later)")


def _compute_dtype(model: Any) -> torch.dtype:
    """The dtype ComfyUI computes in: the manual-cast dtype where weights are stored narrower."""
    base = model.model
    return getattr(base, "manual_cast_dtype", None) or base.get_dtype()


__all__ = ["ComfyPatch", "describe_model", "patch_model", "patch_of", "supported_text"]
