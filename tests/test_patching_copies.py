"""A copy of a patched model (copy.deepcopy, pickle / torch.save) is patched: same recipe, plan and
backend, its own counters and per-call state, unpatched on its own. Every family."""

from __future__ import annotations

import copy
import io

import pytest
import torch

import na_accel
from na_accel.tiny import TINY_PIPELINES
from helpers.family_cases import TRANSFORMER_CASES, prediction
from helpers.patch_state import processors


def copy_of(model, how):
    if how == "deepcopy":
        return copy.deepcopy(model)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def forward(transformer, inputs):
    with torch.no_grad():
        return prediction(transformer(**inputs))


def totals(model):
    return dict(na_accel.describe(model).transformers[0].totals)


@pytest.mark.parametrize("how", ["deepcopy", "torch.save"])
@pytest.mark.parametrize("family", sorted(TRANSFORMER_CASES))
def test_a_copy_of_a_patched_transformer_is_patched_and_its_own(family, how):
    make, make_inputs, kernel = TRANSFORMER_CASES[family]
    transformer = make(seed=0).requires_grad_(False)
    inputs = make_inputs(transformer)
    stock = forward(transformer, inputs)
    stock_types = {name: type(p) for name, p in processors(transformer).items()}
    na_accel.patch(transformer, {"model": family, "default": {"kernel_size": kernel}}, backend="reference")
    patched = forward(transformer, inputs)
    assert not torch.allclose(patched, stock, atol=1e-4)  # the window is smaller than the grid
    ran_before = totals(transformer)

    twin = copy_of(transformer, how)
    assert totals(twin) == {}  # what ran is the original's record
    assert torch.equal(forward(twin, inputs), patched)
    assert totals(twin) == ran_before and totals(transformer) == ran_before  # counted apart

    na_accel.unpatch(twin)
    assert {name: type(p) for name, p in processors(twin).items()} == stock_types
    assert not twin._forward_pre_hooks and not twin._forward_hooks
    assert torch.equal(forward(twin, inputs), stock)
    assert torch.equal(forward(transformer, inputs), patched)  # the original is still patched


DENSE_FIRST_STEP = {"model": "flux", "dense_steps": 1, "default": {"kernel_size": [3, 3]}}


def test_a_deep_copied_pipeline_reads_its_own_scheduler():
    make, call = TINY_PIPELINES["tiny-flux"]
    pipe = make(seed=0)
    na_accel.patch(pipe, DENSE_FIRST_STEP, backend="reference")
    twin = copy.deepcopy(pipe)
    twin(**call(steps=2, output_type="latent"))
    report = na_accel.describe(twin).transformers[0]
    layers = len(report.layers)
    assert report.totals == {"dense: dense step (step < dense_steps=1)": layers, "sparse": layers}
    assert totals(pipe) == {}
    assert pipe.scheduler.step_index is None  # the original's scheduler never moved


def test_a_pickled_transformer_without_its_pipeline_runs_its_dense_steps_stock_counted():
    make, call = TINY_PIPELINES["tiny-flux"]
    pipe = make(seed=0)
    na_accel.patch(pipe, DENSE_FIRST_STEP, backend="reference")
    loaded = copy_of(pipe.transformer, "torch.save")
    make_inputs = TRANSFORMER_CASES["flux"][1]
    forward(loaded, make_inputs(loaded))
    (reason, calls), = totals(loaded).items()
    assert "denoising step unknown" in reason and calls == len(na_accel.describe(loaded).transformers[0].layers)
