"""Fitting a cost profile's constants to timings: least squares on relative error, non-negative.

Dense samples are (dense FLOPs, seconds); sparse samples are (``SparseWork``, seconds of the whole
joint call). A sparse sample's text queries are priced with the fitted dense constants first, the
rest is fit as ``overhead + full / full_rate + partial / partial_rate``. Where the samples never
exercise a term (no masked tile pair timed), it is not identifiable: masked pairs are then priced
at ``UNMEASURED_MASK_SLOWDOWN`` times a full pair, and the fit says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import CostProfileError
from .problem import SparseWork
from .profiles import DenseCost, SparseCost

UNMEASURED_MASK_SLOWDOWN = 1.5  # the tile model's MASK_COST (triton_tiles): +50% per masked score
MIN_KERNEL_SHARE = 0.1  # of a sparse call's time, at least this is the kernel's (not the text queries')


@dataclass(frozen=True)
class Fit:
    coefficients: tuple[float, ...]
    worst_relative_error: float
    notes: tuple[str, ...] = ()


def nonnegative_relative_lstsq(features: np.ndarray, seconds: np.ndarray) -> Fit:
    """Coefficients c >= 0 minimizing sum(((features @ c) - seconds) / seconds)^2 (active set:
    a coefficient the unconstrained fit makes negative is fixed at 0 and the rest refit)."""
    weights = 1.0 / seconds
    active = list(range(features.shape[1]))
    notes = []
    while True:
        a = features[:, active] * weights[:, None]
        solution, *_ = np.linalg.lstsq(a, np.ones_like(seconds), rcond=None)
        if (solution >= 0).all() or len(active) == 1:
            break
        dropped = active[int(np.argmin(solution))]
        notes.append(f"term {dropped} fixed at 0 (the unconstrained fit made it negative)")
        active.remove(dropped)
    coefficients = np.zeros(features.shape[1])
    coefficients[active] = np.maximum(solution, 0.0)
    predicted = features @ coefficients
    worst = float(np.max(np.abs(predicted - seconds) / seconds))
    return Fit(tuple(float(c) for c in coefficients), worst, tuple(notes))


def fit_dense(samples: Sequence[tuple[float, float]], kernel: str) -> tuple[DenseCost, Fit]:
    """``samples``: (dense FLOPs, seconds) of one dense attention call each."""
    _check(samples, "dense")
    features = np.array([[1.0, flops] for flops, _ in samples])
    fit = _growing(nonnegative_relative_lstsq, features, np.array([s for _, s in samples]))
    overhead, per_flop = fit.coefficients
    return DenseCost(kernel, overhead, 1.0 / per_flop), fit


def fit_sparse(samples: Sequence[tuple[SparseWork, float]], dense: DenseCost,
               call_overhead_s: float = 0.0) -> tuple[SparseCost, Fit]:
    """``samples``: (work, seconds of the whole joint call) of one backend."""
    _check(samples, "sparse")
    text = np.array([dense.overhead_s + w.text_query_flops / dense.flops_per_s if w.text_query_flops else 0.0
                     for w, _ in samples])
    total = np.array([s for _, s in samples])
    seconds = total - text
    notes = []
    short = seconds < MIN_KERNEL_SHARE * total
    if short.any():  # noisy timings: the dense model prices the text queries above the whole call
        notes.append(f"{int(short.sum())} sample(s) timed faster than the dense model prices their text queries: "
                     f"their kernel time clipped to {MIN_KERNEL_SHARE:.0%} of the call (noisy timings?)")
        seconds = np.maximum(seconds, MIN_KERNEL_SHARE * total)
    masked = any(w.partial_flops > 0 for w, _ in samples)
    if masked:
        features = np.array([[1.0, w.full_flops, w.partial_flops] for w, _ in samples])
    else:  # masked pairs never timed: price them as the tile model does
        features = np.array([[1.0, w.full_flops + UNMEASURED_MASK_SLOWDOWN * w.partial_flops] for w, _ in samples])
        notes.append(f"no masked tile pair in the samples: masked pairs priced at {UNMEASURED_MASK_SLOWDOWN}x "
                     "a full pair (not measured)")
    fit = _growing(nonnegative_relative_lstsq, features, seconds)
    overhead, per_full = fit.coefficients[:2]
    per_partial = fit.coefficients[2] if masked else per_full * UNMEASURED_MASK_SLOWDOWN
    if per_partial <= 0:  # masked pairs timed no slower than nothing: price them as full ones
        per_partial = per_full
        fit = Fit(fit.coefficients, fit.worst_relative_error,
                  fit.notes + ("masked pairs came out free: priced as full pairs",))
    cost = SparseCost(overhead, 1.0 / per_full, 1.0 / per_partial, call_overhead_s)
    return cost, Fit(fit.coefficients, fit.worst_relative_error, fit.notes + tuple(notes))


def _growing(solve, features: np.ndarray, seconds: np.ndarray) -> Fit:
    """The fit, or where its FLOP term came out zero (timings that do not grow with the work: noise,
    or problems too small), the fit through the origin of the work terms alone, said so."""
    fit = solve(features, seconds)
    if fit.coefficients[1] > 0:
        return fit
    through_origin = solve(features[:, 1:], seconds)
    if through_origin.coefficients[0] <= 0:
        raise CostProfileError("fit: the timings do not grow with the work; time larger problems")
    return Fit((0.0, *through_origin.coefficients), through_origin.worst_relative_error,
               fit.notes + through_origin.notes + ("the timings did not grow with the work (noisy, or problems too "
                                                   "small): fit through the origin, no launch overhead",))


def _check(samples, kind: str) -> None:
    if len(samples) < 2:
        raise CostProfileError(f"fit: {len(samples)} {kind} timing(s); at least 2 problems of different sizes")


__all__ = ["Fit", "fit_dense", "fit_sparse", "nonnegative_relative_lstsq"]
