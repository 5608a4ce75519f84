"""na_accel.tuning.selection: the cheapest window within the budget per layer, and the dense steps."""

import itertools

import numpy as np
import pytest

from na_accel.tuning.candidates import Candidate
from na_accel.tuning.selection import LayerErrors, select, step_errors
from na_accel.windows import WindowSpec

COSTS = (0.1, 0.3, 0.6)  # three candidates, cheapest first; larger windows have smaller errors


def candidates():
    return tuple(Candidate(WindowSpec((k, k), (1, 1), (1, 1), (False, False)).resolve((32, 32)), cost)
                 for k, cost in zip((8, 16, 24), COSTS))


def layer(name, errors):
    return LayerErrors(name, candidates(), np.asarray(errors, dtype=float))


def brute_force_cost(layers, steps, budget):
    """Every (dense_steps, dense_final_steps, per-layer pick) enumerated: the least total cost."""
    best = None
    for d, f in itertools.product(range(steps // 2 + 1), repeat=2):
        if d + f > steps:
            continue
        span = range(d, steps - f)
        total = (d + f) * len(layers)
        for lay in layers:
            ok = [c.cost for i, c in enumerate(lay.candidates)
                  if span and all(lay.errors[i, s] <= budget for s in span)]
            total += len(span) * (min(ok) if ok else 1.0)
        best = total if best is None else min(best, total)
    return best


def test_a_budget_of_zero_keeps_every_layer_dense():
    layers = [layer("a", [[0.3, 0.2], [0.1, 0.05], [0.01, 0.02]]), layer("b", [[0.5, 0.5], [0.2, 0.2], [0.1, 0.1]])]
    selection = select(layers, 2, 0.0)
    assert all(choice.candidate is None for choice in selection.layers)
    assert (selection.dense_steps, selection.dense_final_steps, selection.relative_cost) == (0, 0, 1.0)


def test_each_layer_takes_the_cheapest_window_within_budget():
    layers = [layer("a", [[0.3, 0.2], [0.1, 0.05], [0.01, 0.02]]), layer("b", [[0.04, 0.05], [0.02, 0.02], [0, 0]])]
    selection = select(layers, 2, 0.06)
    assert [c.candidate.window.kernel_size for c in selection.layers] == [(24, 24), (8, 8)]
    assert [c.error for c in selection.layers] == [0.02, 0.05]


def test_high_errors_at_the_first_and_last_steps_become_dense_steps():
    # at steps 0 and 5 only the largest window would do; in between the smallest does
    errors = [[0.9, 0.02, 0.02, 0.02, 0.02, 0.9], [0.5, 0.01, 0.01, 0.01, 0.01, 0.5], [0.04, 0, 0, 0, 0, 0.04]]
    selection = select([layer(f"l{i}", errors) for i in range(3)], 6, 0.05)
    assert (selection.dense_steps, selection.dense_final_steps) == (1, 1)
    assert all(c.candidate.window.kernel_size == (8, 8) for c in selection.layers)
    assert selection.layers[0].step_errors == (None, 0.02, 0.02, 0.02, 0.02, None)


@pytest.mark.parametrize("seed", range(20))
def test_the_choice_is_the_cheapest_and_a_looser_budget_never_costs_more(seed):
    rng = np.random.default_rng(seed)
    steps = int(rng.integers(1, 7))
    layers = []
    for i in range(3):
        base = np.sort(rng.uniform(0, 0.3, size=3))[::-1]  # bigger windows, smaller errors
        layers.append(layer(f"l{i}", base[:, None] * rng.uniform(0.2, 2.0, size=(1, steps))))
    previous = None
    for budget in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0):
        selection = select(layers, steps, budget)
        total = selection.relative_cost * len(layers) * steps
        assert total == pytest.approx(brute_force_cost(layers, steps, budget))
        for choice, lay in zip(selection.layers, layers):
            assert choice.error <= budget
        if previous is not None:
            assert total <= previous + 1e-9
        previous = total


def test_step_errors_are_relative_norms_of_the_sums():
    errors = step_errors({0: ([4.0, 1.0], 16.0), 2: ([0.0, 9.0], 9.0)}, 2, 3)
    assert errors[:, 0].tolist() == [0.5, 0.25] and errors[:, 2].tolist() == [0.0, 1.0]
    assert np.isnan(errors[:, 1]).all()
