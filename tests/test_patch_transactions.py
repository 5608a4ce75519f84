"""patch is all or nothing, aliased transformers are patched once, autograd never hits a raw error."""

import pytest
import torch

import na_accel
from na_accel.families import adapter_for
from na_accel.tiny import flux_transformer_inputs, tiny_wan_pipeline
from conftest import window_recipe
from test_patch import assert_untouched, processors

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
