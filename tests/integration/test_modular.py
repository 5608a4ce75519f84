"""Modular pipelines (diffusers.modular_pipelines) through the public API: patch, describe and
unpatch as on classic ones; the denoising step read from the modular scheduler; every denoiser patched."""

import pytest
import torch

import na_accel
from na_accel.pipeline_parts import latent_output
from na_accel.tiny import TINY_PIPELINES

SPARSE_2D = {"model": "flux", "default": {"kernel_size": [3, 3], "stride": [2, 1]}}


def run(name, pipe, **overrides):
    call = TINY_PIPELINES[name][1]
    with torch.no_grad():
        return pipe(**call(steps=3, seed=1, **latent_output(pipe), **overrides))


def test_unpatch_gives_the_stock_modular_pipeline_back_bit_identical():
    pipe = TINY_PIPELINES["tiny-flux-modular"][0]()
    stock_processors = {n: m.processor for n, m in pipe.transformer.named_modules() if hasattr(m, "processor")}
    stock = run("tiny-flux-modular", pipe, height=80, width=112)
    na_accel.patch(pipe, SPARSE_2D, backend="reference")
    sparse = run("tiny-flux-modular", pipe, height=80, width=112)
    assert na_accel.describe(pipe).transformers[0].totals == {"sparse": 3 * 4}
    na_accel.unpatch(pipe)
    assert {n: m.processor for n, m in pipe.transformer.named_modules() if hasattr(m, "processor")} == stock_processors
    assert torch.equal(run("tiny-flux-modular", pipe, height=80, width=112), stock)
    assert (sparse - stock).abs().max() > 1e-4


@pytest.mark.slow
def test_both_experts_of_a_modular_wan22_are_patched_and_dense_steps_count_steps():
    pipe = TINY_PIPELINES["tiny-wan2.2-modular"][0]()
    recipe = {"model": "wan", "dense_steps": 1, "default": {"kernel_size": [2, 3, 3]}}
    na_accel.patch(pipe, recipe, backend="reference")
    try:
        run("tiny-wan2.2-modular", pipe)  # 3 steps, CFG by the modular guider: 2 calls a step
        reports = {report.attribute: report for report in na_accel.describe(pipe).transformers}
    finally:
        na_accel.unpatch(pipe)
    assert set(reports) == {"transformer", "transformer_2"}
    first, second = reports["transformer"].totals, reports["transformer_2"].totals
    # step 0 dense on the high-noise expert (2 layers x 2 CFG calls), the other calls sparse
    assert first["dense: dense step (step < dense_steps=1)"] == 2 * 2
    assert sum(first.values()) + sum(second.values()) == 3 * 2 * 2
    assert second.get("sparse", 0) > 0 and not any(k.startswith("dense") for k in second)
