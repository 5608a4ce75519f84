"""patch is all or nothing (undone from what is installed, Ctrl-C included), aliased transformers are patched once, autograd never hits a raw error."""

import pytest
import torch

import na_accel
from na_accel.errors import PatchStateError, RecipeError
from na_accel.families import adapter_for
from na_accel.patching import STATE_ATTRIBUTE
from na_accel.tiny import flux_transformer_inputs, tiny_wan_pipeline
from helpers.sample_recipes import window_recipe
from helpers.patch_state import assert_untouched, processors

FLUX = window_recipe([3, 4], stride=[2, 3])
WAN = {"model": "wan", "default": {"kernel_size": [2, 3, 3]}}


class InjectedFailure(RuntimeError):
    pass


def fail_set_processor(module):
    def set_processor(processor):
        raise InjectedFailure("set_processor failed")

    module.set_processor = set_processor  # instance attribute shadows the method


def attention_modules(transformer):
    """The modules whose processors na_accel may swap, in patching order."""
    return [m for _, m in adapter_for(transformer).attention_layers(transformer)]


def test_failure_midway_through_a_transformer_undoes_its_first_layers(flux_pipe):
    before = processors(flux_pipe.transformer)
    fail_set_processor(attention_modules(flux_pipe.transformer)[1])  # the first layer swaps, the second fails
    with pytest.raises(InjectedFailure) as caught:
        na_accel.patch(flux_pipe, FLUX)
    assert "nothing was patched" in "".join(getattr(caught.value, "__notes__", []))
    assert_untouched(flux_pipe.transformer, before)


def test_failure_on_the_second_transformer_undoes_the_first():
    pipe = tiny_wan_pipeline(seed=0, two_stage=True)
    before = {name: processors(getattr(pipe, name)) for name in ("transformer", "transformer_2")}
    fail_set_processor(attention_modules(pipe.transformer_2)[0])  # transformer was patched whole
    with pytest.raises(InjectedFailure):
        na_accel.patch(pipe, WAN, backend="reference")
    for name in ("transformer", "transformer_2"):
        assert_untouched(getattr(pipe, name), before[name])
    del attention_modules(pipe.transformer_2)[0].set_processor  # the failure is gone: patching works
    na_accel.patch(pipe, WAN, backend="reference")
    na_accel.unpatch(pipe)
    for name in ("transformer", "transformer_2"):
        assert_untouched(getattr(pipe, name), before[name])


def test_a_transformer_shared_by_both_slots_is_patched_and_unpatched_once():
    pipe = tiny_wan_pipeline(seed=0, two_stage=True)
    pipe.transformer_2 = pipe.transformer
    before = processors(pipe.transformer)
    na_accel.patch(pipe, WAN, backend="reference")
    assert len(pipe.transformer._forward_pre_hooks) == 1
    assert [t.attribute for t in na_accel.describe(pipe).transformers] == ["transformer"]
    na_accel.unpatch(pipe)
    assert_untouched(pipe.transformer, before)


# --- undo from what is installed: a step that fails half way ----------------------------------


def swap_then_fail(module, error=InjectedFailure("set_processor failed after the swap")):
    """set_processor that installs the processor, then raises (or a Ctrl-C lands right after)."""
    stock_set_processor = module.set_processor

    def set_processor(processor):
        stock_set_processor(processor)
        raise error

    module.set_processor = set_processor


def run_flux(transformer, seed=0):
    with torch.no_grad():
        return transformer(**flux_transformer_inputs(5, 7, seed=seed)).sample


@pytest.mark.parametrize("error", [InjectedFailure("after the swap"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_swap_that_raises_after_installing_is_undone(flux_pipe, error):
    before = processors(flux_pipe.transformer)
    stock = run_flux(flux_pipe.transformer)
    layer = attention_modules(flux_pipe.transformer)[1]
    swap_then_fail(layer, error)
    with pytest.raises(type(error)):
        na_accel.patch(flux_pipe, FLUX, backend="reference")
    assert_untouched(flux_pipe.transformer, before)
    del layer.set_processor
    # a later patch runs that layer sparse, and its unpatch restores it
    na_accel.patch(flux_pipe, FLUX, backend="reference")
    assert not torch.equal(run_flux(flux_pipe.transformer), stock)
    name = next(n for n, m in adapter_for(flux_pipe.transformer).attention_layers(flux_pipe.transformer) if m is layer)
    report = {layer.name: layer for layer in na_accel.describe(flux_pipe).transformers[0].layers}[name]
    assert (report.sparse_calls, report.dense_calls) == (1, {})
    na_accel.unpatch(flux_pipe)
    assert_untouched(flux_pipe.transformer, before)
    assert torch.equal(run_flux(flux_pipe.transformer), stock)


def test_a_swap_that_raises_on_wan22s_second_transformer_is_undone_in_both():
    pipe = tiny_wan_pipeline(seed=0, two_stage=True)
    before = {name: processors(getattr(pipe, name)) for name in ("transformer", "transformer_2")}
    swap_then_fail(attention_modules(pipe.transformer_2)[0])
    with pytest.raises(InjectedFailure):
        na_accel.patch(pipe, WAN, backend="reference")
    for name in ("transformer", "transformer_2"):
        assert_untouched(getattr(pipe, name), before[name])


def test_a_hook_registration_that_fails_leaves_no_hook(flux_transformer, monkeypatch):
    before = processors(flux_transformer)
    stock = run_flux(flux_transformer)

    def register_forward_hook(*args, **kwargs):
        raise InjectedFailure("register_forward_hook failed")

    monkeypatch.setattr(flux_transformer, "register_forward_hook", register_forward_hook)
    with pytest.raises(InjectedFailure):
        na_accel.patch(flux_transformer, FLUX, backend="reference")
    assert_untouched(flux_transformer, before)  # the pre-hook registered first is gone too
    for _ in range(3):
        assert torch.equal(run_flux(flux_transformer), stock)
    monkeypatch.undo()
    na_accel.patch(flux_transformer, FLUX, backend="reference")
    state = getattr(flux_transformer, STATE_ATTRIBUTE)
    for _ in range(3):
        run_flux(flux_transformer)
        assert state.routing.contexts.current is None  # every call's context ended: no chain grows
    na_accel.unpatch(flux_transformer)
    assert_untouched(flux_transformer, before)


def test_what_a_failed_undo_left_is_refused_by_patch_and_restored_by_unpatch(flux_pipe):
    before = processors(flux_pipe.transformer)
    na_accel.patch(flux_pipe, FLUX, backend="reference")
    delattr(flux_pipe.transformer, STATE_ATTRIBUTE)  # as if an undo had failed half way: no owner
    with pytest.raises(PatchStateError, match=r"routed processor\(s\) .* and 2 hook\(s\) from an earlier na_accel patch"):
        na_accel.patch(flux_pipe, FLUX, backend="reference")
    na_accel.unpatch(flux_pipe)
    assert_untouched(flux_pipe.transformer, before)
    with pytest.raises(PatchStateError, match="not patched"):
        na_accel.unpatch(flux_pipe)


# --- autograd -------------------------------------------------------------------------------


def test_autograd_on_a_forward_only_backend_runs_stock_counted(flux_transformer):
    """flex-fna has no backward on CPU: a call autograd records runs stock, counted with the reason."""
    inputs = flux_transformer_inputs(5, 7, seed=3)
    stock = flux_transformer(**inputs).sample
    na_accel.patch(flux_transformer, FLUX)  # auto: flex-fna on CPU
    with pytest.warns(UserWarning, match="with autograd.*flex-fna: no backward pass on CPU"):
        patched = flux_transformer(**inputs).sample
    assert torch.equal(patched, stock)
    patched.sum().backward()  # stock attention: gradients flow
    assert all(p.grad is not None for p in flux_transformer.parameters() if p.requires_grad)
    totals = na_accel.describe(flux_transformer).transformers[0].totals
    assert "sparse" not in totals and all("with autograd" in reason for reason in totals)
    with torch.no_grad():  # inference still runs sparse
        flux_transformer(**inputs)
    assert na_accel.describe(flux_transformer).transformers[0].totals["sparse"] > 0


def test_autograd_through_the_reference_backend_is_sparse(flux_transformer):
    inputs = flux_transformer_inputs(5, 7, seed=4)
    inputs["hidden_states"].requires_grad_(True)
    na_accel.patch(flux_transformer, FLUX, backend="reference")
    flux_transformer(**inputs).sample.square().mean().backward()
    grad = inputs["hidden_states"].grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    totals = na_accel.describe(flux_transformer).transformers[0].totals
    assert set(totals) == {"sparse"}


# --- a rule that decides no layer ------------------------------------------------------------------


def test_a_misspelled_rule_is_refused_before_anything_changes(flux_pipe):
    before = processors(flux_pipe.transformer)
    recipe = {**FLUX, "layers": [{"match": "transfomer_blocks.*", "dense": True}]}
    with pytest.raises(RecipeError, match=r"layers\[0\] \(match 'transfomer_blocks\.\*'\) matches no attention "
                                          r"layer of transformer \(FluxTransformer2DModel\)"):
        na_accel.patch(flux_pipe, recipe)
    with pytest.raises(RecipeError, match="matches no attention layer"):
        na_accel.describe(flux_pipe, recipe)  # the dry run says so too
    assert_untouched(flux_pipe.transformer, before)


def test_a_rule_may_decide_layers_of_either_of_wan22s_transformers():
    pipe = tiny_wan_pipeline(seed=0, two_stage=True)
    name = attention_layer_names(pipe.transformer_2)[0]
    na_accel.patch(pipe, {**WAN, "layers": [{"match": name, "dense": True}]}, backend="reference")
    na_accel.unpatch(pipe)


def attention_layer_names(transformer):
    return [name for name, _ in adapter_for(transformer).attention_layers(transformer)]
