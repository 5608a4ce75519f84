"""The speed gate inside real pipelines: a fake cost profile proves both branches, the counted
reason, the recipe's override, torch.compile; the shipped H100 profile agrees with the H100's
measured timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch._dynamo.utils import counters

import na_accel
from na_accel.recipe import load_recipe
from na_accel.speed.model import estimate_call
from na_accel.speed.problem import AttentionProblem
from na_accel.speed.profiles import find_profile
from na_accel.tiny import TINY_PIPELINES
from na_accel.windows import WindowSpec

from helpers.cost_profiles import cpu_profile

ROOT = Path(__file__).resolve().parents[2]
RECIPE = {"model": "flux", "default": {"kernel_size": [3, 5]}}
SLOW, FAST = 1e3, 1e15  # FLOP/s of the sparse backend in the fake profile (dense: 1e9)


def _generate(pipe):
    _, call = TINY_PIPELINES["tiny-flux"]
    return pipe(**call(steps=1, height=96, width=160, output_type="latent")).images


@pytest.fixture
def pipe():
    make, _ = TINY_PIPELINES["tiny-flux"]
    pipe = make(seed=0)
    pipe.transformer.requires_grad_(False)
    return pipe


def _run(pipe, recipe=RECIPE):
    na_accel.patch(pipe, recipe, backend="reference")
    try:
        out = _generate(pipe)
        return out, na_accel.describe(pipe).transformers[0]
    finally:
        na_accel.unpatch(pipe)


def test_where_sparse_would_not_pay_the_stock_processor_runs_counted_with_the_estimate(pipe, use_profile):
    stock = _generate(pipe)
    use_profile(cpu_profile(SLOW))
    out, report = _run(pipe)
    assert torch.equal(out, stock)  # the stock processors ran, bit for bit
    layers = len(report.layers)
    (reason, count), = report.totals.items()
    assert count == layers
    assert reason.startswith("dense: sparse would not pay at grid 6x10 + ") and "sparse (reference) vs dense" in reason
    assert "on cpu" in reason
    text = report_text(report)
    assert "stock (speed gate) instead of GNA window 3x5" in text and "1 call shape(s) sparse" not in text
    assert "0 call shape(s) sparse, 1 dense by estimate" in text


def report_text(report) -> str:
    from na_accel.patch_report import format_transformer_report
    return format_transformer_report(report)


def test_where_sparse_pays_it_runs_as_without_the_gate(pipe, use_profile):
    stock = _generate(pipe)
    forced, forced_report = _run(pipe, {**RECIPE, "speed_gate": "sparse"})
    use_profile(cpu_profile(FAST))
    out, report = _run(pipe)
    assert torch.equal(out, forced) and not torch.equal(out, stock)
    assert report.totals == forced_report.totals == {"sparse": len(report.layers)}
    assert "1 call shape(s) sparse, 0 dense by estimate" in report_text(report)


def test_the_recipe_forces_either_way(pipe, use_profile):
    use_profile(cpu_profile(SLOW))
    _, report = _run(pipe, {**RECIPE, "speed_gate": "sparse"})
    assert report.totals == {"sparse": len(report.layers)}
    use_profile(cpu_profile(FAST))
    _, report = _run(pipe, {**RECIPE, "speed_gate": "dense"})
    assert report.totals == {"dense: recipe speed_gate: dense": len(report.layers)}


def test_without_a_profile_the_recipe_runs_and_describe_says_no_estimate(pipe):
    _, report = _run(pipe)
    assert report.totals == {"sparse": len(report.layers)}
    assert any("no cost profile for cpu float32" in line for line in report.speed_gate)


def test_a_bad_speed_gate_value_names_the_field():
    with pytest.raises(na_accel.RecipeError, match=r"recipe.speed_gate: 'fast' is not allowed; allowed: auto, sparse, dense"):
        load_recipe({**RECIPE, "speed_gate": "fast"})


def test_the_gate_traces_under_torch_compile_without_graph_breaks(pipe, use_profile):
    use_profile(cpu_profile(SLOW))
    torch._dynamo.reset()
    na_accel.patch(pipe, RECIPE, backend="reference")
    pipe.transformer = torch.compile(pipe.transformer, backend="eager")
    counters.clear()
    _generate(pipe)
    assert not counters["graph_break"], dict(counters["graph_break"])
    (reason, count), = na_accel.describe(pipe).transformers[0].totals.items()
    assert reason.startswith("dense: sparse would not pay")
    torch._dynamo.reset()


# --------------------------------------------------------------------------------------------
# The shipped H100 profile against the H100's own measurements
# --------------------------------------------------------------------------------------------

MEASURED = json.loads((ROOT / "eval" / "results" / "attention-h100.json").read_text())
H100 = "NVIDIA H100 80GB HBM3"


def _problem(case: dict, recipe_window=None) -> AttentionProblem:
    grid = tuple(case["grid"])
    if recipe_window is None:
        sys_path = str(ROOT / "eval")
        import sys
        if sys_path not in sys.path:
            sys.path.insert(0, sys_path)
        from attention_bench import CASES
        _, kernel, stride, *_ = CASES[case["case"]]
        rank = len(grid)
        recipe_window = WindowSpec(kernel_size=kernel, stride=stride, dilation=(1,) * rank,
                                   is_causal=(False,) * rank).resolve(grid)
    return AttentionProblem((recipe_window,), case["text_tokens"], case["batch"], case["heads"], case["head_dim"], 2)


@pytest.mark.parametrize("case", MEASURED["results"], ids=lambda c: c["case"])
def test_the_h100_profile_decides_as_the_h100_measured(case):
    profile = find_profile(H100, "bfloat16")
    estimate = estimate_call(_problem(case), "triton", "triton", profile)
    measured_sparse, measured_dense = case["gna_s"]["triton"], case["dense_s"][case["best_dense"]]
    assert estimate.sparse_pays == (measured_sparse <= measured_dense * (1 - profile.margin))
    assert estimate.sparse_s == pytest.approx(measured_sparse, rel=0.25)
    assert estimate.dense_s == pytest.approx(measured_dense, rel=0.25)


def test_flux_gna_at_4k_runs_the_measured_window_so_the_measured_decision_applies():
    """At 4096² the shipped recipe resolves to the measured flux-4k case (sparse, 6.1x there); at
    other sizes it resolves to windows the H100 never timed: the gate's choice there is an estimate."""
    from na_accel.recipe.scaling import SnapContext
    recipe = load_recipe("flux_gna")
    window = recipe.resolve(recipe.default, (256, 256), SnapContext("triton", 128, 16))
    case = next(c for c in MEASURED["results"] if c["case"] == "flux-4k")
    assert (window.kernel_size, window.stride) == ((80, 80), (16, 16)) == _window_of(case)
    assert estimate_call(_problem(case, window), "triton", "triton", find_profile(H100, "bfloat16")).sparse_pays


def _window_of(case):
    _problem(case)  # puts eval/ on the path
    from attention_bench import CASES
    _, kernel, stride, *_ = CASES[case["case"]]
    return tuple(kernel), tuple(stride)
