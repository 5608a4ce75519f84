"""Fitting recovers constants planted in synthetic timings; unidentifiable terms are said so."""

from __future__ import annotations

import pytest

from na_accel.errors import CostProfileError
from na_accel.speed.fit import UNMEASURED_MASK_SLOWDOWN, fit_dense, fit_sparse
from na_accel.speed.problem import SparseWork
from na_accel.speed.profiles import DenseCost

DENSE = DenseCost("planted", 2e-5, 6e14)


def _dense_seconds(flops):
    return DENSE.overhead_s + flops / DENSE.flops_per_s


def test_dense_constants_are_recovered():
    samples = [(f, _dense_seconds(f)) for f in (1e10, 3e11, 4e12, 5e13)]
    cost, fit = fit_dense(samples, "planted")
    assert cost.overhead_s == pytest.approx(DENSE.overhead_s, rel=1e-6)
    assert cost.flops_per_s == pytest.approx(DENSE.flops_per_s, rel=1e-6)
    assert fit.worst_relative_error < 1e-9


def test_sparse_constants_are_recovered_text_queries_priced_dense():
    overhead, full_rate, partial_rate = 1e-4, 4e14, 1.5e14
    works = [SparseWork(2e10, 3e10, 2e10, 1), SparseWork(4e11, 1e11, 1e11, 1), SparseWork(5e12, 0, 4e11, 1),
             SparseWork(1.5e13, 2e12, 3e11, 1)]
    samples = [(w, overhead + w.full_flops / full_rate + w.partial_flops / partial_rate
                + _dense_seconds(w.text_query_flops)) for w in works]
    cost, fit = fit_sparse(samples, DENSE, call_overhead_s=3e-4)
    assert cost.overhead_s == pytest.approx(overhead, rel=1e-6)
    assert cost.full_flops_per_s == pytest.approx(full_rate, rel=1e-6)
    assert cost.partial_flops_per_s == pytest.approx(partial_rate, rel=1e-6)
    assert cost.call_overhead_s == 3e-4 and not fit.notes


def test_masked_pairs_never_timed_are_priced_by_the_tile_model_and_said_so():
    works = [SparseWork(1e11, 0, 0, 1), SparseWork(1e12, 0, 0, 1)]
    samples = [(w, 1e-5 + w.full_flops / 4e14) for w in works]
    cost, fit = fit_sparse(samples, DENSE)
    assert cost.partial_flops_per_s == pytest.approx(cost.full_flops_per_s / UNMEASURED_MASK_SLOWDOWN)
    assert any("not measured" in note for note in fit.notes)


def test_a_negative_term_is_fixed_at_zero():
    # timings that shrink the launch overhead below zero in an unconstrained fit
    samples = [(1e12, 1e12 / 5e14 - 1e-6), (4e12, 4e12 / 5e14 - 1e-6), (1e13, 1e13 / 5e14)]
    cost, fit = fit_dense(samples, "k")
    assert cost.overhead_s == 0.0 and any("fixed at 0" in n for n in fit.notes)


def test_too_few_or_nonsense_samples_are_refused():
    with pytest.raises(CostProfileError, match="at least 2 problems"):
        fit_dense([(1e9, 1e-3)], "k")
    _, fit = fit_sparse([(SparseWork(1e9, 0, 1e15, 1), 1e-3), (SparseWork(2e9, 0, 1e15, 1), 2e-3)], DENSE)
    assert any("2 sample(s) timed faster than the dense model prices their text queries" in n for n in fit.notes)


def test_timings_that_do_not_grow_are_fit_through_the_origin_and_said_so():
    # noisy CPU timings: the bigger problem timed faster than the smaller one
    cost, fit = fit_dense([(1e8, 2e-3), (4e8, 1.5e-3), (2e8, 1.8e-3)], "k")
    assert cost.overhead_s == 0.0 and cost.flops_per_s > 0
    assert any("fit through the origin" in note for note in fit.notes)
    works = [SparseWork(1e8, 0, 0, 1), SparseWork(4e8, 0, 0, 1)]
    sparse, fit = fit_sparse([(works[0], 3e-3), (works[1], 2e-3)], DENSE)
    assert sparse.full_flops_per_s > 0 and any("fit through the origin" in note for note in fit.notes)
