"""na_accel.outputs.run_summary: what bench and compare report about a patched run."""

from collections import Counter
from types import SimpleNamespace

import pytest

from na_accel.recipe.parse import load_recipe
from na_accel.outputs.run_summary import no_sparse_reason, patch_summary


def report(*transformers):
    return SimpleNamespace(transformers=list(transformers))


def transformer(attribute, totals, backend="flex-fna"):
    return SimpleNamespace(attribute=attribute, totals=totals, backend=backend, backends_used={backend: 3},
                           backends_passed_over={"hopper-fna": "needs a GPU"})


@pytest.fixture
def recipe():
    return load_recipe("flux_gna")


def test_the_summary_counts_every_transformers_calls_by_outcome(recipe):
    summary = patch_summary(recipe, report(
        transformer("transformer", {"sparse": 4, "dense: dense step (step < dense_steps=1)": 2}),
        transformer("transformer_2", {"sparse": 1, "full window": 3, "dense: text refiner": 5}, backend="reference"),
    ), "auto", runs=2)
    assert summary["layer_calls"] == {
        "sparse": 5, "full_window": 3, "dense": 7, "runs_counted": 2,
        "dense_by_reason": {"dense step (step < dense_steps=1)": 2, "text refiner": 5},
    }
    assert summary["backend"] == {
        "requested": "auto", "resolved": ["flex-fna", "reference"],
        "used": {"transformer": {"flex-fna": 3}, "transformer_2": {"reference": 3}},
        "passed_over": {"transformer": {"hopper-fna": "needs a GPU"}, "transformer_2": {"hopper-fna": "needs a GPU"}},
    }
    assert summary["recipe"] == {"name": "flux_gna", "hash": recipe.hash, "dense_steps": recipe.dense_steps,
                                 "dense_final_steps": 0, "loaded_from": recipe.source}


def test_given_totals_replace_the_reports(recipe):
    totals = Counter({"sparse": 10, "dense: fallback": 1})
    summary = patch_summary(recipe, report(transformer("transformer", {"sparse": 99})), "triton", runs=4,
                            totals=totals)
    assert summary["layer_calls"]["sparse"] == 10 and summary["layer_calls"]["dense_by_reason"] == {"fallback": 1}


TWO_DENSE_STEPS = {"model": "flux", "dense_steps": 2, "default": {"kernel_size": [3, 3]}}


@pytest.mark.parametrize("steps", [1, 2])
def test_no_sparse_call_because_every_step_was_a_dense_step(steps):
    reason = no_sparse_reason(load_recipe(TWO_DENSE_STEPS), steps=steps)
    assert reason == (f"no attention call ran sparse: the recipe keeps the first 2 steps dense and the run has "
                      f"{steps}; use more --steps (or a recipe with fewer dense_steps)")


def test_no_sparse_call_because_the_final_steps_were_dense_too():
    recipe = load_recipe({**TWO_DENSE_STEPS, "dense_final_steps": 2})
    assert no_sparse_reason(recipe, steps=4) == (
        "no attention call ran sparse: the recipe keeps the first 2 and the last 2 steps dense and the run has 4; "
        "use more --steps (or a recipe with fewer dense_steps / dense_final_steps)")
    assert "full windows or fallbacks" in no_sparse_reason(recipe, steps=5)  # step 2 ran as the layers say


def test_no_sparse_call_for_another_reason():
    reason = no_sparse_reason(load_recipe(TWO_DENSE_STEPS), steps=3)
    assert reason == "no attention call ran sparse (see dense_by_reason: full windows or fallbacks)"
