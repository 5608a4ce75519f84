"""Patched transformers under torch.compile: na_accel's own code adds no graph break.

The per-call routing (grid, step, counters) and the processors trace into one graph; only the
transformer's pre-forward hook (which reads the grid from the inputs with device syncs) runs
eagerly, by design. The checks use the ``reference`` backend (plain PyTorch) so they measure
na_accel's code, not NATTEN's: its CPU backend (flex-fna) builds block masks inside the call,
which dynamo can't trace; the fused GPU kernels are to be checked on a GPU.
"""

from __future__ import annotations

import pytest
import torch

from torch._dynamo.utils import counters

import na_accel
from na_accel import tiny
from na_accel.tiny import TINY_PIPELINES

FAMILIES = {
    "flux": (tiny.tiny_flux_transformer, lambda t: tiny.flux_transformer_inputs(5, 7, 2, 8, 0), [3, 3]),
    "hunyuan_video": (
        tiny.tiny_hunyuan_video_transformer,
        lambda t: tiny.hunyuan_video_transformer_inputs(t, (2, 3, 4), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [2, 3, 3],
    ),
    "cosmos": (tiny.tiny_cosmos_transformer, lambda t: tiny.cosmos_transformer_inputs(t, (2, 3, 4), batch=2), [2, 3, 3]),
    "wan": (tiny.tiny_wan_transformer, lambda t: tiny.wan_transformer_inputs(t, (2, 3, 4), batch=2), [2, 3, 3]),
    "flux2": (tiny.tiny_flux2_transformer, lambda t: tiny.flux2_transformer_inputs(t, (5, 7), batch=2), [3, 3]),
    "qwen_image": (
        tiny.tiny_qwen_image_transformer,
        lambda t: tiny.qwen_image_transformer_inputs(t, (4, 5), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [3, 3],
    ),
}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_patched_transformer_compiles_without_graph_breaks(family):
    make, make_inputs, kernel = FAMILIES[family]
    transformer = make(seed=0).requires_grad_(False)
    inputs = make_inputs(transformer)
    na_accel.patch(transformer, {"model": family, "default": {"kernel_size": kernel}}, backend="reference")
    with torch.no_grad():
        eager = transformer(**inputs).sample
    report = na_accel.describe(transformer).transformers[0]
    sparse_before = report.totals["sparse"]

    counters.clear()
    compiled = torch.compile(transformer, backend="eager")
    with torch.no_grad():
        outputs = [compiled(**inputs).sample for _ in range(2)]
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] == 1  # each call's fresh per-call context causes no recompile
    assert all((output - eager).abs().max().item() <= 1e-6 for output in outputs)
    # the counters still count (dynamo replays the routing's side effects)
    assert na_accel.describe(transformer).transformers[0].totals["sparse"] == sparse_before + 2 * len(report.layers)


def test_compiled_pipeline_keeps_dense_steps_and_counts():
    make, call = TINY_PIPELINES["tiny-flux"]
    pipe = make(seed=0)
    pipe.transformer.requires_grad_(False)
    recipe = {"model": "flux", "dense_steps": 1, "default": {"kernel_size": [3, 3]}}

    na_accel.patch(pipe, recipe, backend="reference")
    eager = pipe(**call(steps=3, output_type="latent")).images
    eager_counts = dict(na_accel.describe(pipe).transformers[0].totals)
    na_accel.unpatch(pipe)

    pipe.transformer = torch.compile(pipe.transformer, backend="eager")
    na_accel.patch(pipe, recipe, backend="reference")  # patches the compiled model's module
    counters.clear()
    compiled = pipe(**call(steps=3, output_type="latent")).images
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert dict(na_accel.describe(pipe).transformers[0].totals) == eager_counts
    assert eager_counts["sparse"] > 0 and any(k.startswith("dense: dense step") for k in eager_counts)
    assert (compiled - eager).abs().max().item() <= 1e-6
