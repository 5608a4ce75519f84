"""patch / unpatch: plan every attention layer, check the whole plan, then apply it.

Applying a plan means, per transformer:

* one forward pre-hook (and a post-hook that ends the call) reading the token grid, the text
  length and the denoising step from the transformer's inputs into a per-call, per-thread
  context (``na_accel.runtime``);
* per layer planned sparse, the stock processor's attention call routed (``na_accel.runtime.seam``):
  the stock processor code runs as it is; its ``dispatch_attention_fn`` call runs GNA or, when it
  can't be sparse, the stock call itself (counted, never silently). The stock processor object is
  kept for unpatch.

Applying is all or nothing: if any step fails (Ctrl-C included), everything applied so far is
undone before the error propagates, so the pipeline is left as it was. Undoing works from what is
installed on the transformer (every routed processor and patch hook found there), not from what
``apply`` believes it did, so a step that fails half way is undone too; what an undo itself could
not restore makes a later ``patch`` refuse, and ``unpatch`` cleans it up.

A copy of a patched transformer (``copy.deepcopy``, pickle, ``torch.save``) is patched with the same
recipe, plan and backend; its counters and per-call state start empty and ``unpatch`` undoes it
alone. It reads the denoising step from the pipeline it belongs to (see ``SchedulerStepReader``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .errors import PatchStateError, UnsupportedModelError
from .families import ModelAdapter, adapter_for, check_recipe_family, family_geometry
from .families.registry import SUPPORTED_HEADING, supported_models_list
from .kernels import AUTO, BackendTarget, check_backend_name
from .plan import LayerPlan, check_rules_decide, plan_layers
from .recipe.model import Recipe
from .recipe.parse import load_recipe
from .recipe.scaling import check_snap_tiles
from .runtime import BackendChoice, LayerRoute, RouteState, StepPosition, step_reader
from .runtime.backend_choice import execution_device
from .pipeline_parts import pipeline_transformers, unwrap_compiled
from .runtime.seam import RoutedProcessor, install, stock_of, unroutable_reason
from .speed import SpeedGate

STATE_ATTRIBUTE = "_na_accel_patch"


# --------------------------------------------------------------------------------------------
# The patch of one transformer
# --------------------------------------------------------------------------------------------


@dataclass
class TransformerPatch:
    """One transformer's patch: planned by ``plan_patches`` (nothing changed yet: what ``describe``
    shows in a dry run), then applied by ``apply`` and undone by ``remove``."""

    attribute: str  # "transformer", "transformer_2", or the class name for a bare model
    transformer: torch.nn.Module
    adapter: ModelAdapter
    recipe: Recipe
    backend_choice: BackendChoice
    plans: dict[str, LayerPlan]
    modules: dict[str, torch.nn.Module]  # the attention layers the plan was made for, by name
    step_reader: Callable[[], StepPosition | None] | None
    gate: SpeedGate  # where sparse pays on the device (recipe.speed_gate)
    routes: dict[str, LayerRoute] = field(default_factory=dict)
    routing: RouteState = field(init=False)  # what every route shares: recipe, backends, gate, call contexts

    def __post_init__(self) -> None:
        self.routing = RouteState(self.attribute, self.recipe, self.backend_choice, self.gate)

    # -- applying and removing ----------------------------------------------------------------

    def apply(self) -> None:
        """Route the planned layers' attention calls and add the hooks; on any failure (Ctrl-C
        included), undo all of it and raise. ``remove`` undoes what is installed on the transformer,
        so a step that fails half way (a processor swapped or a hook registered, then an error) is
        undone too."""
        try:
            setattr(self.transformer, STATE_ATTRIBUTE, self)
            self.transformer.register_forward_pre_hook(self._before_forward, with_kwargs=True)
            self.transformer.register_forward_hook(self._after_forward, always_call=True)
            for name, plan in self.plans.items():
                if not plan.sparse:
                    continue
                route = LayerRoute(self.routing, plan)
                self.routes[name] = route
                install(self.modules[name], route, self.adapter)
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        """Restore every stock processor and remove the hooks, from what is installed on the
        transformer (also after a partial apply, and whatever an earlier failed patch left)."""
        try:
            failures = restore_stock(self.transformer)
        finally:
            self.routing.contexts.clear()
            if getattr(self.transformer, STATE_ATTRIBUTE, None) is self:
                delattr(self.transformer, STATE_ATTRIBUTE)
        _check_restored(self.attribute, failures)

    # Run eagerly under torch.compile: reading the grid syncs with the device (.item(), equality
    # checks), which would break the graph at the transformer's entry; the processors' routing
    # is plain Python on these results and traces without graph breaks.
    @torch.compiler.disable
    def _before_forward(self, module, args, kwargs):
        layout = self.adapter.token_layout(module, args, kwargs)
        step = self.step_reader() if self.step_reader is not None else None
        if step is not None:
            dense_step_reason = self.recipe.dense_step_reason(step.index, step.total)
        elif self.recipe.dense_steps or self.recipe.dense_final_steps:
            # the pipeline is gone (a pickled copy, or a transformer outliving it): the recipe's
            # dense steps can't be told apart, so every call runs stock, counted
            dense_step_reason = ("denoising step unknown: the pipeline this transformer was patched in is gone "
                                 "(recipe dense_steps / dense_final_steps need its scheduler)")
        else:
            dense_step_reason = None
        self.routing.contexts.begin(layout, step, dense_step_reason)
        return None

    @torch.compiler.disable
    def _after_forward(self, module, args, output):
        self.routing.contexts.end()
        for route in self.routes.values():
            route.commit()
        return None


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# What is installed: undo works from the transformer itself, not from what apply believes it did
# --------------------------------------------------------------------------------------------

# torch keeps a module's forward hooks in these dicts, keyed by handle id (RemovableHandle removes from all)
_HOOK_DICTS = (("_forward_pre_hooks", ("_forward_pre_hooks_with_kwargs",)),
               ("_forward_hooks", ("_forward_hooks_with_kwargs", "_forward_hooks_always_called")))


def _patch_hook_ids(transformer: torch.nn.Module) -> list[tuple[str, tuple[str, ...], int]]:
    """(hook dict, its companion dicts, id) of every hook a TransformerPatch installed."""
    return [(hooks, extra, hook_id) for hooks, extra in _HOOK_DICTS
            for hook_id, hook in getattr(transformer, hooks, {}).items()
            if isinstance(getattr(hook, "__self__", None), TransformerPatch)]


def _installed_gna(transformer: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(name, module) of every layer whose processor is routed by na_accel."""
    return [(name, module) for name, module in transformer.named_modules()
            if isinstance(getattr(module, "processor", None), RoutedProcessor)]


def leftovers(transformer: torch.nn.Module) -> str | None:
    """What na_accel left installed on a transformer no patch owns (an undo that failed), or None."""
    if hasattr(transformer, STATE_ATTRIBUTE):
        return None
    layers, hooks = _installed_gna(transformer), _patch_hook_ids(transformer)
    if not layers and not hooks:
        return None
    return (f"{len(layers)} routed processor(s)" + (f" (first {layers[0][0]})" if layers else "")
            + f" and {len(hooks)} hook(s)")


def restore_stock(transformer: torch.nn.Module) -> list[tuple[str, BaseException]]:
    """Put back the stock processor of every routed layer and remove every patch hook; returns the
    layers that could not be restored (the others are)."""
    failures, interrupt = [], None
    for name, module in _installed_gna(transformer):
        stock = stock_of(module.processor)  # through nested routes (a patch over an earlier failed one)
        try:
            module.set_processor(stock)
        except BaseException as exc:  # a Ctrl-C too: finish the undo first, then re-raise it
            if not isinstance(exc, Exception):
                interrupt = interrupt or exc
            if module.processor is stock:
                continue  # it raised after restoring: restored
            try:  # the undo path must not depend on the method that failed: plain attribute
                torch.nn.Module.__setattr__(module, "processor", stock)
            except Exception:
                failures.append((name, exc))
    for hooks, extra, hook_id in _patch_hook_ids(transformer):
        for table in (hooks, *extra):
            getattr(transformer, table).pop(hook_id, None)
    if interrupt is not None:
        raise interrupt
    return failures


def _check_restored(attribute: str, failures: list[tuple[str, BaseException]]) -> None:
    if failures:
        name, exc = failures[0]
        raise PatchStateError(f"{attribute}: could not restore the original processor of {len(failures)} "
                              f"layer(s), first {name}: {type(exc).__name__}: {exc}") from exc


def patch(obj: Any, recipe: Any, *, backend: str = AUTO, scheduler: Any = None) -> Any:
    """Replace the self attention of ``obj``'s transformer(s) with GNA, as ``recipe`` says.

    ``obj`` is a diffusers pipeline, classic or modular (its denoisers are patched: ``transformer``
    and, where present, ``transformer_2`` or another ``transformer_<x>`` component), or a bare
    supported transformer. ``recipe`` is a shipped recipe name, a path to a .yaml/.json file, a dict
    or a ``Recipe``. ``backend`` is ``"auto"``, ``"reference"`` or a NATTEN backend name, or
    "triton" (na_accel's fused Triton kernel). ``scheduler`` is where the denoising step is read
    (``step_index``, ``timesteps``) for the recipe's ``dense_steps``: by default the pipeline's own;
    for a bare transformer in your own loop, the scheduler that loop steps. Everything is checked
    before anything changes. Returns ``obj``.
    """
    patches = plan_patches(obj, recipe, backend=backend, scheduler=scheduler)
    applied = []
    try:
        for transformer_patch in patches:
            transformer_patch.apply()  # undoes itself if it fails
            applied.append(transformer_patch)
    except BaseException as exc:
        for transformer_patch in reversed(applied):
            transformer_patch.remove()
        if isinstance(exc, Exception):
            exc.add_note("na_accel: nothing was patched; every change made before the failure was undone")
        raise
    return obj


def plan_patches(obj: Any, recipe: Any, *, backend: str = AUTO, scheduler: Any = None) -> list[TransformerPatch]:
    """Everything ``patch`` checks and decides, without changing ``obj``."""
    recipe = load_recipe(recipe)
    check_backend_name(backend)
    pipeline, targets = _find_transformers(obj)
    patches = []
    for attribute, transformer in targets:
        adapter = adapter_for(transformer, where=attribute)
        check_recipe_family(recipe.model, adapter.family, f"recipe.model: {recipe.name or '<inline>'}",
                            f"{attribute} ({type(transformer).__name__})")
        if hasattr(transformer, STATE_ATTRIBUTE):
            raise PatchStateError(
                f"{attribute} ({type(transformer).__name__}) is already patched by na_accel; "
                "call na_accel.unpatch(...) first to patch it with another recipe"
            )
        if (left := leftovers(transformer)) is not None:
            raise PatchStateError(
                f"{attribute} ({type(transformer).__name__}) still has {left} from an earlier na_accel "
                "patch whose undo failed; call na_accel.unpatch(...) to restore it first"
            )
        patches.append(_plan_transformer(attribute, transformer, adapter, recipe, backend, pipeline, scheduler))
    where = " or ".join(f"{p.attribute} ({type(p.transformer).__name__})" for p in patches)
    check_rules_decide(recipe, [plan for p in patches for plan in p.plans.values()], where)
    return patches


def unpatch(obj: Any) -> Any:
    """Restore the original processors and remove every hook na_accel added (also what an earlier
    failed undo left). Returns ``obj``."""
    _, targets = _find_transformers(obj)
    states = [getattr(t, STATE_ATTRIBUTE, None) for _, t in targets]
    stale = [(attribute, t) for (attribute, t), state in zip(targets, states) if state is None and leftovers(t)]
    if not any(states) and not stale:
        raise PatchStateError(f"{type(obj).__name__} is not patched by na_accel; nothing to unpatch")
    for state in states:
        if state is not None:
            state.remove()
    for attribute, transformer in stale:
        _check_restored(attribute, restore_stock(transformer))
    return obj


def patches_of(obj: Any) -> list[TransformerPatch]:
    """The TransformerPatch of every patched transformer of ``obj`` (empty if none)."""
    _, targets = _find_transformers(obj)
    return [getattr(t, STATE_ATTRIBUTE) for _, t in targets if hasattr(t, STATE_ATTRIBUTE)]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _find_transformers(obj: Any) -> tuple[Any, list[tuple[str, torch.nn.Module]]]:
    """(pipeline or None, [(attribute, transformer)]) for a classic or modular pipeline or a bare transformer."""
    if isinstance(obj, torch.nn.Module):
        model = unwrap_compiled(obj)
        return None, [(type(model).__name__, model)]
    if isinstance(getattr(obj, "components", None), dict):
        found = pipeline_transformers(obj)
        if not found:
            raise UnsupportedModelError(
                f"{type(obj).__name__} has no 'transformer' component; na_accel patches diffusion transformers\n"
                f"{SUPPORTED_HEADING}\n{supported_models_list()}"
            )
        return obj, found
    raise UnsupportedModelError(
        f"expected a diffusers pipeline (classic or modular) or a transformer model, got {type(obj).__name__}\n"
        f"{SUPPORTED_HEADING}\n{supported_models_list()}"
    )


def _plan_transformer(
    attribute: str,
    transformer: torch.nn.Module,
    adapter: ModelAdapter,
    recipe: Recipe,
    backend: str,
    pipeline: Any,
    scheduler: Any,
) -> TransformerPatch:
    modules = dict(adapter.attention_layers(transformer))
    blocked = {name: reason for name, module in modules.items()
               if (reason := adapter.unsupported_processor_reason(module) or unroutable_reason(type(module.processor)))
               is not None}
    plans = plan_layers(recipe, modules, blocked)
    if not plans:
        raise UnsupportedModelError(f"{attribute}: no attention layers found to patch")

    target = None
    if any(plan.sparse for plan in plans.values()):
        parameter = next(transformer.parameters())
        target = BackendTarget(
            device=execution_device(transformer),  # not meta under sequential offload
            dtype=parameter.dtype,
            head_dim=adapter.head_dim(transformer),
            grid_rank=len(family_geometry(recipe.model).axes),
        )
        check_snap_tiles(recipe.scaling, target.head_dim, target.grid_rank)

    return TransformerPatch(
        attribute=attribute,
        transformer=transformer,
        adapter=adapter,
        recipe=recipe,
        backend_choice=BackendChoice(backend, target),
        plans=plans,
        modules=modules,
        step_reader=step_reader(pipeline, recipe, attribute, scheduler),
        gate=SpeedGate(recipe.speed_gate, adapter.heads(transformer)),
    )


__all__ = ["patch", "unpatch", "plan_patches", "patches_of", "TransformerPatch", "LayerRoute", "LayerPlan"]
