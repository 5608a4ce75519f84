"""Tile snapping: a ``ResolvedWindow`` moved, per axis, to the nearest window a tiled kernel runs
with no wasted tile (``snap_window``; ``na_accel.recipe.scaling`` calls it for ``scaling.snap``).

The rule, per axis of length n with q tile tq and kv tile tk (``snap_axis``):

* candidates: stride a multiple of tq, kernel a multiple of tk (kernel * dilation <= n), plus the
  whole axis;
* if the axis admits perfectly block-sparse windows (its dilation groups are multiples of tq and
  tk), the nearest candidate that is perfectly block-sparse (checked exactly, ``tilecount``) wins;
  otherwise the nearest *aligned* one (interior windows start on kv-tile boundaries:
  (kernel // 2 - stride // 2) % tk == 0), whose only partly used tiles are the padded last tiles;
* nearest = smallest |ln(k / k0)| + 0.5 |ln(s / s0)| (ties: larger kernel, then smaller stride);
* if the choice visits as many tile pairs as the whole axis, the whole axis is taken instead
  (same kernel work, more context): e.g. an axis that fits in one tile becomes dense.

Causal axes and axes of length 1 are not snapped (the attention core drops the latter; tiles are
those of the remaining rank).

The candidates are (kernel, stride) pairs, about (n / tk) * (n / tq) / 2 of them (billions on a
65,536-token axis): they are never listed. Kernels are visited nearest first and the search stops
where no farther kernel can win; per kernel, strides are walked outwards from the requested one
(the block-sparse search, lazily, in exact cost order) or the nearest aligned stride on each side
is solved for in closed form (the aligned search).

It lives with the tile counts it is decided by, not in ``windows`` (which sits below the kernels),
and is typed over ``ResolvedWindow`` and ``TileShape`` only: no recipe type.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import replace

from ..windows import ResolvedWindow, effective_axes
from .tilecount import axis_tiles
from .tiles import TileShape

STRIDE_WEIGHT = 0.5  # how much a stride change counts against a kernel change when snapping


def snap_axis(n: int, k0: int, s0: int, d: int, tq: int, tk: int) -> tuple[int, int, int]:
    """The snapped (kernel, stride, dilation) along one non-causal axis (the rule: the module docstring).

    The candidates are never listed (there are about (n / tk) * (n / tq) / 2 of them: billions on a
    65,536-token axis): the perfectly block-sparse search walks them lazily in cost order, and the
    aligned search takes, per kernel, the nearest aligned stride on each side of ``s0`` in closed
    form; both visit kernels nearest first and stop where no farther one can win. Memory is at most
    O(n / tk), and in practice a handful of kernels.
    """
    if k0 == n and d == 1:
        return k0, s0, d  # already the whole axis
    kmax = n // d
    group_lengths = {(n - g + d - 1) // d for g in range(d)}  # two values: ceil(n / d) and floor(n / d)
    perfect_possible = all(m % tq == 0 and m % tk == 0 for m in group_lengths)
    kernels = range(tk if tk >= 2 else 2, kmax + 1, tk)  # multiples of tk, >= 2, kernel * d <= n
    whole = (n, 1, 1)
    choice = None
    if perfect_possible:
        for k, s in _candidates_by_cost(kernels, k0, s0, tq):
            if axis_tiles(n, k, s, d, False, tq, tk).block_sparse:
                choice = (k, s, d)
                break
    else:
        best = _nearest_aligned(kernels, k0, s0, tq, tk)
        if best is not None:
            choice = (best[0], best[1], d)
    if choice is None:
        return whole
    visited = axis_tiles(n, choice[0], choice[1], choice[2], False, tq, tk).visited
    if visited >= axis_tiles(n, n, 1, 1, False, tq, tk).visited:
        return whole
    return choice


def snap_window(window: ResolvedWindow, tiles: TileShape) -> ResolvedWindow:
    """``window`` snapped on every non-causal axis of length > 1 to ``tiles`` (over those axes, in order).

    An axis snapped to the whole axis joins ``clamped_axes``; ``snapped`` names the tiles and
    ``requested`` keeps the (kernel_size, stride) before snapping.
    """
    kernel, stride, dilation = list(window.kernel_size), list(window.stride), list(window.dilation)
    clamped = set(window.clamped_axes)
    for i, axis in enumerate(effective_axes(window.grid)):
        if window.is_causal[axis]:
            continue
        n = window.grid[axis]
        k, s, d = snap_axis(n, kernel[axis], stride[axis], dilation[axis], tiles.q_tile[i], tiles.kv_tile[i])
        if (k, s, d) != (kernel[axis], stride[axis], dilation[axis]) and k * d == n and d == 1 and k == n:
            clamped.add(axis)  # snapped to the whole axis
        kernel[axis], stride[axis], dilation[axis] = k, s, d
    return replace(
        window,
        kernel_size=tuple(kernel),
        stride=tuple(stride),
        dilation=tuple(dilation),
        clamped_axes=tuple(sorted(clamped)),
        snapped=f"snapped to {tiles.describe()}",
        requested=(window.kernel_size, window.stride),
    )


def _snap_cost(k: int, s: int, k0: int, s0: int) -> tuple[float, int, int]:
    """The order of snapping candidates: nearest first (ties: larger kernel, then smaller stride)."""
    return (abs(math.log(k / k0)) + STRIDE_WEIGHT * abs(math.log(s / s0)), -k, s)


def _kernels_by_cost(kernels: range, k0: int):
    """(|ln(k / k0)|, k) for every k of ``kernels``, lazily, in non-decreasing order of the first:
    the kernels <= k0 downwards merged with those > k0 upwards. Every candidate of kernel k costs
    at least |ln(k / k0)| (the stride term is >= 0), so a search can stop at the first kernel that
    costs more than its best candidate so far."""
    if not kernels:
        return
    at_or_below = 0 if k0 < kernels.start else min(len(kernels), (k0 - kernels.start) // kernels.step + 1)
    down, up = iter(kernels[:at_or_below][::-1]), iter(kernels[at_or_below:])
    next_down, next_up = next(down, None), next(up, None)
    while next_down is not None or next_up is not None:
        a_down = abs(math.log(next_down / k0)) if next_down is not None else math.inf
        a_up = abs(math.log(next_up / k0)) if next_up is not None else math.inf
        if a_down <= a_up:
            yield a_down, next_down
            next_down = next(down, None)
        else:
            yield a_up, next_up
            next_up = next(up, None)


def _candidates_by_cost(kernels: range, k0: int, s0: int, tq: int):
    """Every (kernel, stride) with kernel in ``kernels`` and stride a multiple of tq <= kernel, in
    ``_snap_cost`` order, lazily: a heap of at most two stride frontiers per kernel, kernels let in
    (``_kernels_by_cost``) only once the cheapest candidate left could be theirs.

    For one kernel, the strides <= s0 cost more the further down they go, and those > s0 the
    further up: the costs of neighbouring strides differ by at least about
    STRIDE_WEIGHT * tq / (2 * n), far above float rounding, so each frontier yields in strictly
    increasing cost and merging the frontiers is the sorted order of all candidates (the keys are
    distinct: they hold (k, s)).
    """
    below = s0 // tq  # strides tq * j with j <= below are <= s0
    heap: list = []
    pending = _kernels_by_cost(kernels, k0)
    waiting = next(pending, None)  # the next kernel to let in: (its least cost, k)
    while heap or waiting is not None:
        # Let in every kernel that may hold a candidate as cheap as the heap's cheapest (ties in
        # cost are broken by k and s: a kernel of equal least cost comes in too).
        while waiting is not None and (not heap or waiting[0] <= heap[0][0][0]):
            k = waiting[1]
            top = k // tq
            if min(below, top) >= 1:  # downwards from the largest stride <= s0
                j = min(below, top)
                heapq.heappush(heap, (_snap_cost(k, tq * j, k0, s0), k, j, -1))
            if below + 1 <= top:  # upwards from the smallest stride > s0
                heapq.heappush(heap, (_snap_cost(k, tq * (below + 1), k0, s0), k, below + 1, 1))
            waiting = next(pending, None)
        if not heap:
            break
        _, k, j, step = heap[0]
        yield k, tq * j
        j += step
        if 1 <= j <= k // tq:
            heapq.heapreplace(heap, (_snap_cost(k, tq * j, k0, s0), k, j, step))
        else:
            heapq.heappop(heap)


def _nearest_aligned(kernels: range, k0: int, s0: int, tq: int, tk: int) -> tuple[int, int] | None:
    """The cheapest (``_snap_cost``) aligned candidate: stride s a multiple of tq <= kernel k with
    (k // 2 - s // 2) % tk == 0, or None when there is none.

    Aligned means s mod 2tk is 2r or 2r + 1 (r = (k // 2) % tk): for s = tq * j, each is a linear
    congruence in j, whose solutions are one residue class; per kernel, the nearest solution at or
    below s0 and the nearest above are the cheapest of their side. Kernels are visited nearest
    first, up to the first that costs more than the best candidate found.
    """
    modulus = 2 * tk
    g = math.gcd(tq, modulus)
    period = modulus // g  # in j
    inverse = pow(tq // g, -1, period) if period > 1 else 0
    below = s0 // tq
    best = None
    for least, k in _kernels_by_cost(kernels, k0):
        if best is not None and least > best[0][0]:
            break
        top = k // tq
        if top == 0:
            continue
        r = (k // 2) % tk
        for target in (2 * r, 2 * r + 1):
            if target % g:
                continue
            j0 = (target // g) * inverse % period if period > 1 else 0
            found = []
            high = min(below, top)
            if high >= 1:
                j = high - (high - j0) % period
                if j >= 1:
                    found.append(j)
            low = below + 1
            if low <= top:
                j = low + (j0 - low) % period
                if j <= top:
                    found.append(j)
            for j in found:
                key = _snap_cost(k, tq * j, k0, s0)
                if best is None or key < best[0]:
                    best = (key, k, tq * j)
    return None if best is None else (best[1], best[2])


__all__ = ["STRIDE_WEIGHT", "snap_axis", "snap_window"]
