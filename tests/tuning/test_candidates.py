"""na_accel.tuning.candidates: tile-aligned windows, cheapest first, by the speed work's cost model; and a
synthetic check that the tuner keeps small windows where attention is local and large ones where it isn't."""

import math

import pytest
import torch

from na_accel.kernels import GNACall
from na_accel.kernels.snapping import snap_window
from na_accel.recipe.scaling import SnapContext
from na_accel.speed.problem import AttentionProblem, sparse_work
from na_accel.tuning.candidates import CallShape, candidate_windows
from na_accel.tuning.measure import sample_rows, window_errors
from na_accel.tuning.selection import LayerErrors, select, step_errors
from na_accel.kernels.tiles import default_tiles
from na_accel.windows import WindowSpec

GRID = (32, 32)


def shape(grid=GRID, text_len=16, backend="flex-fna", max_tiles=True):
    return CallShape(grids=(grid,), text_len=text_len, heads=2, head_dim=16, element_size=4, backend=backend,
                     snap=SnapContext(backend, 16, 32), profile=None)


@pytest.mark.parametrize("grid", [(32, 32), (24, 40), (8, 16, 16)])
def test_candidates_are_tile_aligned_sparse_and_cheapest_first(grid):
    found = candidate_windows(shape(grid), None)
    assert found, "no candidate"
    tiles = default_tiles("flex-fna", len(grid), 16, 32)
    for candidate in found:
        window = candidate.window
        assert not window.covers_grid
        again = snap_window(window, tiles)
        assert (again.kernel_size, again.stride) == (window.kernel_size, window.stride)  # already on the tiles
        work = sparse_work(AttentionProblem((window,), 16, 1, 2, 16, 4), "flex-fna")
        dense = AttentionProblem((window,), 16, 1, 2, 16, 4).dense_flops()
        assert candidate.cost == pytest.approx((work.full_flops + work.partial_flops + work.text_query_flops) / dense)
        assert candidate.cost < 1
    assert [c.cost for c in found] == sorted(c.cost for c in found)
    assert len({c.key for c in found}) == len(found)


def test_the_base_window_is_a_candidate_and_the_count_is_capped():
    base = WindowSpec((8, 16), (8, 8), (1, 1), (False, False)).resolve(GRID)
    found = candidate_windows(shape(), base, max_candidates=4)
    assert any(c.base and c.key == (base.kernel_size, base.stride, base.dilation, base.is_causal) for c in found)
    assert len(found) <= 5 and found[0].cost == min(c.cost for c in candidate_windows(shape(), base))


def positional_qkv(grid, sharpness, seed=0):
    """q . k = -sharpness / 2 * |p_q - p_k|^2 + (a constant per query): attention local by construction."""
    ys, xs = torch.meshgrid(*(torch.arange(n, dtype=torch.float32) for n in grid), indexing="ij")
    p = torch.stack([ys.flatten(), xs.flatten()], dim=-1)  # [N, 2]
    head_dim = 4
    scale = head_dim ** 0.5  # undo SDPA's 1/sqrt(d)
    q = torch.cat([p, torch.ones(len(p), 1), torch.zeros(len(p), 1)], dim=-1) * sharpness * scale
    k = torch.cat([p, -(p.square().sum(-1, keepdim=True)) / 2, torch.zeros(len(p), 1)], dim=-1)
    v = torch.randn(len(p), head_dim, generator=torch.Generator().manual_seed(seed))
    return (t[None, :, None, :] for t in (q, k, v))


def tune_synthetic(q, k, v, budget):
    call = shape(text_len=0)
    found = candidate_windows(call, None)
    errors = window_errors(q, k, v, GNACall(found[0].window), candidates=[c.window for c in found],
                           rows=sample_rows(math.prod(GRID), 256, 0))
    layer = LayerErrors("attn", tuple(found), step_errors({0: (errors.squared_errors, errors.squared_dense)},
                                                          len(found), 1))
    return select([layer], 1, budget).layers[0], found


def test_local_attention_gets_small_windows_and_wider_attention_larger_ones():
    # sharpness 20: a query's neighbours one token away weigh e^-10; 8x8 blocks (stride 8) lose only those
    choice, found = tune_synthetic(*positional_qkv(GRID, sharpness=20.0), budget=0.01)
    assert choice.candidate is not None and choice.candidate.cost == found[0].cost
    # sharpness 0.5: the next few tokens matter, so a query at a stride group's edge needs a wider window
    wider, _ = tune_synthetic(*positional_qkv(GRID, sharpness=0.5), budget=0.01)
    assert wider.candidate is not None and found[0].cost < wider.candidate.cost < 1


def test_global_attention_keeps_windows_large_or_dense():
    q, k, v = positional_qkv(GRID, sharpness=0.0)  # q = 0: every key weighs the same
    choice, found = tune_synthetic(q, k, v, budget=0.05)
    assert choice.candidate is None  # no window within 5% of uniform attention over 1024 keys
    choice, found = tune_synthetic(q, k, v, budget=0.9)
    assert choice.candidate is not None and choice.candidate.cost > found[0].cost
