"""Patched transformers under torch.compile: na_accel's own code adds no graph break, and no
recompilation per layer or per denoising step.

The per-call routing and the processors trace into one graph; only the transformer's pre- and
post-forward hooks (which read the grid from the inputs with device syncs, decide the dense steps
and add up the counts) run eagerly, by design. The checks use the ``reference`` backend (plain
PyTorch) so they measure na_accel's code, not NATTEN's: its CPU backend (flex-fna) builds block masks inside the call,
which dynamo can't trace; the fused GPU kernels are to be checked on a GPU.
"""

from __future__ import annotations

import pytest
import torch

from torch._dynamo.utils import counters

from diffusers import FirstBlockCacheConfig

import na_accel
from na_accel import tiny
from na_accel.tiny import TINY_PIPELINES

from helpers.family_cases import TRANSFORMER_CASES, prediction

# HunyuanVideo 1.5 compiles block by block: its own test below
FAMILIES = {family: case for family, case in TRANSFORMER_CASES.items() if family != "hunyuan_video15"}


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
        eager = prediction(transformer(**inputs))
    report = na_accel.describe(transformer).transformers[0]
    sparse_before = report.totals["sparse"]

    counters.clear()
    compiled = torch.compile(transformer, backend="eager", fullgraph=True)  # any graph break is an error
    with torch.no_grad():
        outputs = [prediction(compiled(**inputs)) for _ in range(2)]
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

    # a longer schedule reuses those graphs: the step index is read eagerly, not guarded on
    graphs = counters["stats"]["unique_graphs"]
    pipe(**call(steps=5, output_type="latent"))
    assert counters["stats"]["unique_graphs"] == graphs
    totals = na_accel.describe(pipe).transformers[0].totals
    assert totals["dense: dense step (step < dense_steps=1)"] == 2 * len(na_accel.describe(pipe).transformers[0].layers)


def _compiled_graphs(transformer, inputs) -> int:
    """Graphs dynamo compiles for two calls of ``transformer`` (after an eager call, which both
    compiled calls must reproduce)."""
    with torch.no_grad():
        eager = transformer(**inputs).sample
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(transformer, backend="eager")
    with torch.no_grad():
        for _ in range(2):
            assert (compiled(**inputs).sample - eager).abs().max().item() <= 1e-6
    return counters["stats"]["unique_graphs"]


def test_block_loop_graph_break_compiles_one_block_for_every_layer():
    """HunyuanVideo 1.5's forward breaks the graph before its block loop (``if is_t2v``); dynamo
    then compiles each block's forward as a frame of its own, shared by every block. The patched
    layers' routes read nothing that differs between layers, so they add no graph: one per layer
    would exhaust torch._dynamo.config.recompile_limit on a real model and run the rest eagerly."""
    transformer = tiny.tiny_hunyuan_video15_transformer(seed=0).requires_grad_(False)
    inputs = tiny.hunyuan_video15_transformer_inputs(transformer, (2, 3, 4), batch=2, text_len=24)
    stock_graphs = _compiled_graphs(transformer, inputs)
    assert stock_graphs > 1  # the graph break the stock forward has

    na_accel.patch(transformer, {"model": "hunyuan_video15", "default": {"kernel_size": [2, 3, 3]}},
                   backend="reference")
    assert _compiled_graphs(transformer, inputs) == stock_graphs
    layers = transformer.config.num_layers
    assert na_accel.describe(transformer).transformers[0].totals == {"sparse": 3 * layers}


CACHE_THRESHOLD = 0.5  # tiny FLUX: every step after the first reuses the cached blocks after the first


def _cached_generation(pipe, steps=2):
    _, call = TINY_PIPELINES["tiny-flux"]
    return pipe(**call(steps=steps, height=128, width=128, output_type="latent")).images


def _compiled_cached_generation(pipe, compile_backend):
    """A generation with the transformer compiled in place: (output, dynamo's graph breaks)."""
    pipe.transformer.compile(backend=compile_backend)
    torch._dynamo.reset()
    counters.clear()
    return _cached_generation(pipe), dict(counters["graph_break"])


def _graphs_added_by_longer_schedule(pipe) -> int:
    graphs = counters["stats"]["unique_graphs"]
    _cached_generation(pipe, steps=4)
    return counters["stats"]["unique_graphs"] - graphs


def test_compiled_pipeline_with_first_block_cache_and_gna():
    """First Block Cache + GNA, compiled by dynamo with the eager and aot_eager backends: the graph
    breaks are the cache's own (as on the stock pipeline), outputs and counts are eager's, and later
    denoising steps compile nothing the stock pipeline doesn't (the cache's hooks make dynamo
    specialize on integers it reads per block: na_accel's step index is read eagerly)."""
    make, _ = TINY_PIPELINES["tiny-flux"]
    stock_pipe = make(seed=0)
    stock_pipe.transformer.requires_grad_(False)
    stock_pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=CACHE_THRESHOLD))
    _, cache_alone_breaks = _compiled_cached_generation(stock_pipe, "eager")
    cache_alone_added = _graphs_added_by_longer_schedule(stock_pipe)

    pipe = make(seed=0)
    pipe.transformer.requires_grad_(False)
    na_accel.patch(pipe, {"model": "flux", "default": {"kernel_size": [3, 3]}}, backend="reference")
    pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=CACHE_THRESHOLD))
    eager = _cached_generation(pipe)
    eager_counts = dict(na_accel.describe(pipe).transformers[0].totals)
    layers = len(na_accel.describe(pipe).transformers[0].layers)
    assert set(eager_counts) == {"sparse"} and layers < eager_counts["sparse"] < 2 * layers  # blocks skipped

    for runs, compile_backend in enumerate(("eager", "aot_eager"), start=2):
        compiled, breaks = _compiled_cached_generation(pipe, compile_backend)
        assert breaks == cache_alone_breaks, compile_backend  # the cache's own, none from na_accel
        assert na_accel.describe(pipe).transformers[0].totals == {"sparse": runs * eager_counts["sparse"]}
        assert (compiled - eager).abs().max().item() <= 1e-6, compile_backend
    assert _graphs_added_by_longer_schedule(pipe) == cache_alone_added
