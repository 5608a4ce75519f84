"""Typed outcomes: counted as objects, shown as the documented text."""

import warnings
from collections import Counter

import torch

import na_accel
from na_accel.patching import patches_of
from na_accel.runtime import FULL_WINDOW, SPARSE, Outcome, Ran

RECIPE = {"model": "flux", "default": {"kernel_size": [3, 3]}}


def test_outcomes_are_values_with_the_documented_text():
    assert Outcome.dense("why") == Outcome.dense("why") and Outcome.dense("why") != Outcome.dense("other")
    assert Outcome.dense("why").is_dense and not SPARSE.is_dense and not FULL_WINDOW.is_dense
    assert [str(SPARSE), str(FULL_WINDOW), str(Outcome.dense("why"))] == ["sparse", "full window", "dense: why"]
    assert {SPARSE.ran, FULL_WINDOW.ran, Outcome.dense("x").ran} == set(Ran)


def test_a_layer_counts_outcome_objects_and_describe_shows_them_as_text(flux_transformer):
    na_accel.patch(flux_transformer, RECIPE, backend="reference")
    route = next(iter(patches_of(flux_transformer)[0].routes.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        route.dense("probe reason")  # outside a forward call: counted straight into the totals
    counts = route.counts
    assert counts == Counter({Outcome.dense("probe reason"): 1})
    layer = next(l for l in na_accel.describe(flux_transformer).transformers[0].layers if l.name == route.name)
    assert layer.dense_calls == {"probe reason": 1}
    assert na_accel.describe(flux_transformer).transformers[0].totals == {"dense: probe reason": 1}


def test_a_backend_that_moved_device_is_resolved_once_per_device_and_dtype(flux_transformer):
    na_accel.patch(flux_transformer, RECIPE, backend="reference")
    choice = patches_of(flux_transformer)[0].backend_choice
    first = choice.for_call(torch.device("cpu"), torch.float64)
    assert first.name == "reference" and choice.for_call(torch.device("cpu"), torch.float64) is first
    assert set(choice.used) == {"cpu float32", "cpu float64"}
