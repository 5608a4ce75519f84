"""Tiles the Triton kernel picks fit the program's registers and the device's shared memory
(``triton_tiles.TileBudget``), checked against the memory model's arithmetic, not the picker."""

from __future__ import annotations

import pytest

from na_accel.kernels.triton_tiles import (MIN_STAGES, REGISTER_TILE_LIMIT, TileBudget, block_d, choose_tiles,
                                           shared_memory_bytes)

H100, CONSUMER = 232448, 101376  # opt-in shared memory per block: H100 / H200; RTX 4090, 5090, L40S
FLUX_4K = ((1, 256, 256), (1, 80, 80), (1, 16, 16), (1, 1, 1), (False,) * 3, 512)
HUNYUAN = ((30, 48, 80), (18, 24, 24), (16, 8, 8), (1, 1, 1), (False,) * 3, 256)
SMALL = ((1, 20, 30), (1, 7, 9), (1, 2, 3), (1, 1, 1), (False,) * 3, 77)


def test_model_arithmetic():
    assert block_d(72) == block_d(128) == 128 and block_d(8) == 16 and block_d(256) == 256
    # bf16, d128, 128 x 128 tiles: q 32 KiB + (stages - 1) x (k 32 KiB + v 32 KiB)
    assert shared_memory_bytes(128, 128, 128, 2, 3) == 2 * 128 * (128 + 2 * 128 * 2) == 163840


@pytest.mark.parametrize("geometry", [FLUX_4K, HUNYUAN, SMALL], ids=["flux-4k", "hunyuan", "small"])
@pytest.mark.parametrize("head_dim", [64, 80, 128, 256])
@pytest.mark.parametrize("element_size", [2, 4])
@pytest.mark.parametrize("memory", [H100, CONSUMER])
def test_chosen_tiles_fit_registers_and_shared_memory(geometry, head_dim, element_size, memory):
    budget = TileBudget(head_dim, element_size, memory)
    tiles = choose_tiles(*geometry, budget)
    assert max(tiles.block_m, tiles.block_n) * block_d(head_dim) <= REGISTER_TILE_LIMIT
    assert shared_memory_bytes(tiles.block_m, tiles.block_n, head_dim, element_size, MIN_STAGES) <= memory
    stages = budget.max_stages(tiles.block_m, tiles.block_n, 4)
    assert shared_memory_bytes(tiles.block_m, tiles.block_n, head_dim, element_size, stages) <= memory


def test_head_dim_256_runs_64_row_tiles_and_128_keeps_the_largest():
    wide = choose_tiles(*FLUX_4K, TileBudget(256, 2, H100))
    assert wide.block_m == wide.block_n == 64
    big = choose_tiles(*FLUX_4K, TileBudget(128, 2, H100))
    assert big == choose_tiles(*FLUX_4K)  # an H100 holds what the unbounded model picks at d128
    # 128 x 128 bf16 tiles at d128: 2 stages on a 99 KB card (NOTES §9), more on an H100
    assert TileBudget(128, 2, CONSUMER).max_stages(128, 128, 4) == 2 < TileBudget(128, 2, H100).max_stages(128, 128, 4)


def test_no_fitting_tile_is_an_error_with_the_budget():
    with pytest.raises(ValueError, match=r"no tile shape fits TileBudget\(head_dim=128, element_size=2, "
                                         r"shared_memory=1000\) \(the smallest needs 12288 bytes"):
        choose_tiles(*SMALL, TileBudget(128, 2, 1000))
