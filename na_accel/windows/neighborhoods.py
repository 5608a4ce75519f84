"""A GNA window along one axis, as key ranges: each query's keys are one contiguous range of its
dilation group, so counts along an axis take O(axis length) and no mask.

The rules are ``masks.axis_neighborhood_mask``'s (NATTEN's documented semantics), written as range
bounds; the tests check both against the masks. The N-D neighborhood is the outer product of the
per-axis ones, so N-D counts are products of these per-axis counts: ``ResolvedWindow.density``
takes its density from here, ``kernels.tilecount`` its tile counts.
"""

from __future__ import annotations

import numpy as np


def axis_ranges(n: int, kernel: int, stride: int, dilation: int, causal: bool):
    """Per dilation group g: (group length, lo, hi) arrays; query i of the group sees keys [lo, hi).

    For a legal window (kernel * dilation <= n, which ``WindowSpec.resolve`` ensures, and stride <=
    kernel, which recipes check) every range lies inside the group. For others a range may reach
    outside it, or be empty with hi < lo: ``axis_attended_pairs`` clips them, as the mask does.
    """
    groups = []
    for g in range(min(dilation, n)):
        m = (n - g + dilation - 1) // dilation
        q = np.arange(m)
        if causal:
            leader = np.minimum((q // stride) * stride + stride - 1, m - 1)
            lo = np.maximum(leader - kernel + 1, 0)
            hi = q + 1
        else:
            leader = np.minimum((q // stride) * stride + stride // 2, m - 1)
            lo = np.minimum(np.maximum(leader - kernel // 2, 0), m - kernel)
            hi = lo + kernel
        groups.append((m, lo, hi))
    return groups


def axis_attended_pairs(n: int, kernel: int, stride: int, dilation: int, causal: bool) -> int:
    """(query, key) pairs attended along an axis of ``n`` tokens: the True entries of its [n, n] mask."""
    total = 0
    for m, lo, hi in axis_ranges(n, kernel, stride, dilation, causal):
        total += int(np.maximum(np.minimum(hi, m) - np.maximum(lo, 0), 0).sum())
    return total


__all__ = ["axis_attended_pairs", "axis_ranges"]
