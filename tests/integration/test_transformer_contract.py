"""The contract at the bare transformer, for every family of ``family_cases.TRANSFORMER_CASES`` (batch 2,
odd grids so windows meet the borders, padded text where the family has a mask), on every backend
this machine runs:

* a window covering the grid reproduces stock output (<= 1e-5, float32), every call through GNA;
* a window smaller than the grid, with a stride, equals the ``reference`` backend's output (<= 1e-5)
  and differs from stock, every call sparse.

``test_contract.py`` keeps the same contract inside real pipelines (8x12 grids, fused QKV, CFG,
reference images); the per-family tests keep only what is the family's own.
"""

from __future__ import annotations

import functools

import pytest
import torch

import na_accel
from helpers.family_cases import TRANSFORMER_CASES, prediction
from na_accel.families import family_spec
from helpers.contract import difference, runnable_backends

TOLERANCE = 1e-5
FULL_WINDOW = 4096  # clamped to every grid


def _params():
    params = []
    for family in sorted(TRANSFORMER_CASES):
        reason = family_spec(family).unavailable_reason()
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params += [pytest.param(family, backend, id=f"{family}-{backend}", marks=marks)
                   for backend in (runnable_backends(family) if not reason else ["reference"])]
    return params


@functools.lru_cache(maxsize=None)
def _case(family: str):
    """The family's tiny transformer, its forward inputs and its stock prediction (built once)."""
    make, make_inputs, kernel = TRANSFORMER_CASES[family]
    transformer = make(seed=0)
    inputs = make_inputs(transformer)
    with torch.no_grad():
        stock = prediction(transformer(**inputs))
    return transformer, inputs, kernel, stock


def _patched(family: str, window: dict, backend: str):
    transformer, inputs, _, _ = _case(family)
    na_accel.patch(transformer, {"model": family, "default": window}, backend=backend)
    try:
        with torch.no_grad():
            out = prediction(transformer(**inputs))
        totals = na_accel.describe(transformer).transformers[0].totals
    finally:
        na_accel.unpatch(transformer)
    return out, totals


@pytest.mark.parametrize("family, backend", _params())
def test_full_window_reproduces_stock(family, backend):
    *_, stock = _case(family)
    out, totals = _patched(family, {"kernel_size": FULL_WINDOW}, backend)
    assert difference(out, stock) <= TOLERANCE
    assert set(totals) == {"full window"} and totals["full window"] > 0  # every call through GNA


@pytest.mark.parametrize("family, backend", _params())
def test_sparse_window_matches_reference(family, backend):
    *_, kernel, stock = _case(family)
    window = {"kernel_size": kernel, "stride": [1] * (len(kernel) - 1) + [2]}
    reference, _ = _patched(family, window, "reference")
    out, totals = _patched(family, window, backend)
    assert difference(out, reference) <= TOLERANCE
    assert difference(out, stock) > 1e-4  # the window is sparse: GNA changed the output
    assert set(totals) == {"sparse"} and totals["sparse"] > 0  # nothing ran dense, nothing full-window


def test_every_family_is_in_the_transformer_contract():
    from na_accel.families.registry import FAMILY_SPECS

    assert set(TRANSFORMER_CASES) == {spec.name for spec in FAMILY_SPECS}
