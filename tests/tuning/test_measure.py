"""na_accel.tuning.measure: a candidate window's error on one call's q / k / v equals an independent
computation: the explicit-mask ``reference`` backend's output vs dense SDPA over the whole sequence."""

import math

import pytest
import torch

from na_accel.kernels import GNACall
from na_accel.tuning.measure import sample_rows, window_errors
from na_accel.windows import WindowSpec
from helpers.tuning_oracle import expected_error


@pytest.mark.parametrize("text_first", [True, False])
@pytest.mark.parametrize("case", ["plain", "padded text, batch 2", "reference grid", "no text, 3-D"])
def test_errors_equal_reference_vs_dense(case, text_first):
    grid, extra_grids, text_len, valid = (6, 7), (), 5, None
    if case == "padded text, batch 2":
        valid = [5, 2]
    elif case == "reference grid":
        extra_grids = ((3, 4),)
    elif case == "no text, 3-D":
        grid, text_len = (3, 4, 5), 0
    batch = 2
    seq = math.prod(grid) + sum(math.prod(g) for g in extra_grids) + text_len
    generator = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(batch, seq, 3, 8, generator=generator) for _ in range(3))
    kernels = [(3,) * len(grid), tuple(n - 1 for n in grid), (1,) * len(grid)]
    windows = [WindowSpec(kr, (1,) * len(grid), (1,) * len(grid), (False,) * len(grid)).resolve(grid) for kr in kernels]
    rows = sample_rows(math.prod(grid), 9, seed=3)

    def call_with(window):  # the candidate on every grid
        spec = WindowSpec(window.kernel_size, window.stride, window.dilation, window.is_causal)
        return GNACall(window, text_len, text_first, valid, tuple(spec.resolve(g) for g in extra_grids))

    found = window_errors(q, k, v, call_with(windows[0]), candidates=windows, rows=rows,
                          max_elements=200)  # several chunks
    for window, squared in zip(windows, found.squared_errors):
        want = expected_error(q, k, v, call_with(window), rows)
        assert math.sqrt(squared / found.squared_dense) == pytest.approx(want, rel=1e-4, abs=1e-6)
    assert found.squared_errors[0] > 0  # a 3-token window on random q / k misses most of the mass


def test_a_window_covering_the_grid_has_no_error():
    grid = (4, 5)
    q, k, v = (torch.randn(1, 20 + 3, 2, 4) for _ in range(3))
    full = WindowSpec((4, 5), (1, 1), (1, 1), (False, False)).resolve(grid)
    found = window_errors(q, k, v, GNACall(full, text_len=3), candidates=[full], rows=sample_rows(20, None, 0))
    assert found.squared_errors[0] <= 1e-10 * found.squared_dense and found.rows == 20


def test_sampled_rows_are_distinct_seeded_and_all_when_few():
    assert torch.equal(sample_rows(10, 64, 0), torch.arange(10))
    assert torch.equal(sample_rows(10, None, 0), torch.arange(10))
    rows = sample_rows(1000, 100, 7)
    assert rows.unique().numel() == 100 and torch.equal(rows, sample_rows(1000, 100, 7))
    assert not torch.equal(rows, sample_rows(1000, 100, 8))
