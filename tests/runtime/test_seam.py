"""The attention seam (na_accel/runtime/seam.py): the stock processors run unchanged, only their
``dispatch_attention_fn`` call is routed, and nothing else in the process sees a difference.

Checked against stock diffusers itself: the stock dispatch's own record of the calls it got, stock
outputs of an unpatched twin, the stock processor objects before patching.
"""

from __future__ import annotations

import copy
import threading

import pytest
import torch
from diffusers.models import attention_dispatch
from diffusers.models.attention_dispatch import AttentionBackendName
from diffusers.models.transformers import transformer_flux, transformer_wan
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

import na_accel
from na_accel import tiny
from na_accel.runtime.seam import SEAM_ATTRIBUTE, RoutedProcessor, routed_class

SMALL = {"model": "flux", "default": {"kernel_size": [3, 3], "stride": [2, 1]}}
GRID = (5, 7)


def _inputs(seed=1):
    return tiny.flux_transformer_inputs(*GRID, batch=2, text_len=6, seed=seed)


def _run(transformer, inputs):
    with torch.no_grad():
        return transformer(**inputs).sample


class DispatchRecord:
    """Wraps a model module's ``dispatch_attention_fn`` (what its stock processors call) and keeps
    every call's arguments."""

    def __init__(self, monkeypatch, module):
        self.calls = []
        stock = module.dispatch_attention_fn

        def recorded(query, key, value, *args, **kwargs):
            self.calls.append((query.clone(), key.clone(), value.clone(), args, dict(kwargs)))
            return stock(query, key, value, *args, **kwargs)

        monkeypatch.setattr(module, "dispatch_attention_fn", recorded)


def _same_calls(a, b) -> bool:
    def same(x, y):
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and torch.equal(x, y)
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, tuple):
            return len(x) == len(y) and all(map(same, x, y))
        return x is y or x == y
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))


def test_dense_calls_are_the_stock_call_with_the_same_arguments(monkeypatch):
    transformer = tiny.tiny_flux_transformer(seed=0)
    inputs = _inputs()

    # ids that are no row-major grid: every call runs stock (counted)
    inputs["img_ids"] = inputs["img_ids"].flip(0)
    stock_record = DispatchRecord(monkeypatch, transformer_flux)
    stock = _run(transformer, inputs)
    monkeypatch.undo()
    na_accel.patch(transformer, SMALL, backend="reference")
    patched_record = DispatchRecord(monkeypatch, transformer_flux)
    with pytest.warns(UserWarning, match="no token grid"):
        patched = _run(transformer, inputs)
    assert torch.equal(patched, stock)
    assert _same_calls(patched_record.calls, stock_record.calls)  # the very arguments, backend and config included
    assert len(stock_record.calls) == 4
    totals = na_accel.describe(transformer).transformers[0].totals
    assert sum(totals.values()) == 4 and all(k.startswith("dense: no token grid") for k in totals)


def test_the_users_attention_backend_runs_the_dense_and_the_text_rows(monkeypatch):
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    # diffusers' set_attention_backend also sets the process-wide active backend: restored after the test
    # (left at _native_math, it broke a later Kandinsky 6 test's stock masks in the same worker)
    monkeypatch.setattr(_AttentionBackendRegistry, "_active_backend", _AttentionBackendRegistry._active_backend)
    stock_transformer = tiny.tiny_flux_transformer(seed=0)
    stock_transformer.set_attention_backend("_native_math")
    inputs = _inputs()
    stock = _run(stock_transformer, inputs)

    transformer = tiny.tiny_flux_transformer(seed=0)
    # flex-fna hands the text rows to the dense attention it is given (the reference backend masks them itself)
    na_accel.patch(transformer, {"model": "flux", "default": {"kernel_size": 4096}}, backend="flex-fna")
    transformer.set_attention_backend("_native_math")  # set while patched: reaches the stock state too
    record = DispatchRecord(monkeypatch, transformer_flux)
    full = _run(transformer, inputs)
    assert (full - stock).abs().max().item() <= 1e-5  # full window == stock, on the user's backend
    # GNA ran (4 layers), and its text rows went through the stock dispatch with the user's backend
    assert na_accel.describe(transformer).transformers[0].totals == {"full window": 4}
    assert record.calls and {call[4]["backend"] for call in record.calls} == {AttentionBackendName._NATIVE_MATH}
    assert all(call[0].shape[1] == 6 for call in record.calls)  # the text queries only


def test_an_unpatched_twin_stays_stock_while_a_patched_one_runs_in_another_thread():
    patched, twin = tiny.tiny_flux_transformer(seed=0), tiny.tiny_flux_transformer(seed=0)
    inputs = _inputs()
    stock = _run(twin, inputs)
    na_accel.patch(patched, SMALL, backend="reference")
    sparse = _run(patched, inputs)
    assert (sparse - stock).abs().max().item() > 1e-3  # really sparse

    results, errors = {}, []

    def loop(name, transformer, n=4):
        try:
            results[name] = [_run(transformer, inputs) for _ in range(n)]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=("patched", patched)), threading.Thread(target=loop, args=("twin", twin))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # (concurrent threads may split CPU reductions differently: float rounding, nothing more)
    assert all((out - stock).abs().max().item() <= 1e-6 for out in results["twin"])
    assert all((out - sparse).abs().max().item() <= 1e-6 for out in results["patched"])
    assert all(type(m.processor) is FluxAttnProcessor for m in twin.modules() if hasattr(m, "processor"))
    # the model module's own global is untouched: only the routed copies call na_accel
    assert transformer_flux.dispatch_attention_fn is attention_dispatch.dispatch_attention_fn


def test_one_routed_class_per_stock_class_with_the_stock_signature():
    a, b = tiny.tiny_flux_transformer(seed=0), tiny.tiny_flux_transformer(seed=1)
    na_accel.patch(a, SMALL, backend="reference")
    na_accel.patch(b, SMALL, backend="reference")
    processors = [m.processor for t in (a, b) for m in t.modules() if isinstance(getattr(m, "processor", None),
                                                                                 RoutedProcessor)]
    assert len(processors) == 8 and {type(p) for p in processors} == {routed_class(FluxAttnProcessor)}
    assert issubclass(routed_class(FluxAttnProcessor), FluxAttnProcessor)
    # per-layer facts live in instance data (dynamo reads them without recompiling per layer)
    assert len({id(getattr(p, SEAM_ATTRIBUTE).route) for p in processors}) == 8


def test_unpatch_puts_back_the_stock_processor_objects_bit_for_bit():
    transformer = tiny.tiny_flux_transformer(seed=0)
    inputs = _inputs()
    stock = _run(transformer, inputs)
    before = {name: (m.processor, copy.copy(m.processor.__dict__)) for name, m in transformer.named_modules()
              if hasattr(m, "processor")}
    na_accel.patch(transformer, SMALL, backend="reference")
    _run(transformer, inputs)
    na_accel.unpatch(transformer)
    after = {name: m.processor for name, m in transformer.named_modules() if hasattr(m, "processor")}
    assert all(after[name] is processor and processor.__dict__ == state for name, (processor, state) in before.items())
    assert torch.equal(_run(transformer, inputs), stock)


def test_other_calls_of_a_patched_module_run_stock_and_are_counted():
    """Cross attention through a patched self-attention module (keys from other tokens), and a call
    outside the transformer's forward: the stock processor's own result, each counted with its reason."""
    transformer = tiny.tiny_wan_transformer(seed=0)
    inputs = tiny.wan_transformer_inputs(transformer, (2, 4, 6), batch=2, seed=3)
    na_accel.patch(transformer, {"model": "wan", "default": {"kernel_size": [2, 3, 3]}}, backend="reference")
    attn = transformer.blocks[0].attn1
    stock_processor = getattr(attn.processor, SEAM_ATTRIBUTE).stock
    seen = {}

    def cross_call(block, args, output):  # inside the forward: the layout is known
        x = torch.randn(2, 48, attn.inner_dim if hasattr(attn, "inner_dim") else 32, generator=torch.Generator().manual_seed(0))
        context = torch.randn(2, 5, x.shape[-1], generator=torch.Generator().manual_seed(1))
        seen["routed"] = attn(x, encoder_hidden_states=context)
        seen["stock"] = stock_processor(attn, x, context)

    handle = transformer.blocks[0].register_forward_hook(cross_call)
    with pytest.warns(UserWarning, match="cross attention"):
        _run(transformer, inputs)
    handle.remove()
    assert torch.equal(seen["routed"], seen["stock"])

    x = torch.randn(1, 48, seen["routed"].shape[-1])
    with pytest.warns(UserWarning, match="outside the transformer's forward"):
        assert torch.equal(attn(x), stock_processor(attn, x))
    layer = na_accel.describe(transformer).transformers[0].layers[0]
    reasons = " | ".join(layer.dense_calls)
    assert "cross attention" in reasons and "outside the transformer's forward" in reasons
    assert layer.dense_calls == {r: 1 for r in layer.dense_calls}


def test_a_processor_class_that_does_not_call_dispatch_is_refused_by_name():
    from na_accel.runtime.seam import unroutable_reason

    class Custom(FluxAttnProcessor):
        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                     image_rotary_emb=None):
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)

    assert unroutable_reason(FluxAttnProcessor) is None
    assert unroutable_reason(Custom) == ("processor Custom calls neither dispatch_attention_fn nor "
                                         "F.scaled_dot_product_attention (the attention calls GNA routes); it keeps "
                                         "running as it is")
    assert unroutable_reason(transformer_wan.WanAttnProcessor) is None


def test_inference_mode_runs_as_no_grad():
    """Inference tensors keep no version counter: the once-per-tensor reads (img_ids, padding
    masks) cache them on identity."""
    transformer = tiny.tiny_hunyuan_video_transformer(seed=0)
    inputs = tiny.hunyuan_video_transformer_inputs(transformer, (2, 3, 4), batch=2, text_len=7,
                                                   valid_text_lens=[7, 3], seed=2)
    na_accel.patch(transformer, {"model": "hunyuan_video", "default": {"kernel_size": [2, 2, 3]}}, backend="reference")
    expected = _run(transformer, inputs)
    with torch.inference_mode():
        inference_inputs = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        outputs = [transformer(**inference_inputs).sample for _ in range(2)]
    assert all(torch.equal(out, expected) for out in outputs)
    layers = len(na_accel.describe(transformer).transformers[0].layers)
    assert na_accel.describe(transformer).transformers[0].totals == {"sparse": 3 * layers}


def test_diffusers_attention_score_skipping_runs_stock_and_is_counted():
    """Skip-layer guidance's skip_attention_scores (PAG, SLG) replaces F.scaled_dot_product_attention
    through a torch function mode; GNA's kernels never call it, so the skipped layer runs stock."""
    from diffusers.hooks import LayerSkipConfig, apply_layer_skip

    inputs = tiny.qwen_image_transformer_inputs(tiny.tiny_qwen_image_transformer(seed=0), (4, 5), batch=1, text_len=4)
    skip = LayerSkipConfig(indices=[0], fqn="transformer_blocks", skip_attention=False, skip_attention_scores=True)
    stock_model = tiny.tiny_qwen_image_transformer(seed=0)
    apply_layer_skip(stock_model, skip)
    stock = _run(stock_model, inputs)

    transformer = tiny.tiny_qwen_image_transformer(seed=0)
    na_accel.patch(transformer, {"model": "qwen_image", "default": {"kernel_size": 4096}}, backend="flex-fna")
    apply_layer_skip(transformer, skip)
    with pytest.warns(UserWarning, match="torch function mode"):
        patched = _run(transformer, inputs)
    assert (patched - stock).abs().max().item() <= 1e-5
    layers = {layer.name: layer for layer in na_accel.describe(transformer).transformers[0].layers}
    (reason, count), = layers["transformer_blocks.0.attn"].dense_calls.items()
    assert count == 1 and "AttentionScoreSkipFunctionMode" in reason
