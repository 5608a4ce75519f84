"""Tiles and launch configurations the Triton kernel picks fit the program's registers and the
device's shared memory (``triton_tiles.TileBudget``, ``launch_configs``), checked against the memory
model's arithmetic here; tests/eval/test_kernel_codegen.py checks the model against the compiler."""

from __future__ import annotations

import pytest

from na_accel.kernels.triton_tiles import (FP32_TILE_LIMIT, MIN_STAGES, PRE_HOPPER_TILE_LIMIT, REGISTER_TILE_LIMIT,
                                           LaunchConfig, TileBudget, block_d, choose_tiles, launch_configs,
                                           shared_memory_bytes)

H100, A100, CONSUMER = 232448, 166912, 101376  # opt-in shared memory per block; CONSUMER: RTX 4090, 5090, L40S
FLUX_4K = ((1, 256, 256), (1, 80, 80), (1, 16, 16), (1, 1, 1), (False,) * 3, 512)
HUNYUAN = ((30, 48, 80), (18, 24, 24), (16, 8, 8), (1, 1, 1), (False,) * 3, 256)
SMALL = ((1, 20, 30), (1, 7, 9), (1, 2, 3), (1, 1, 1), (False,) * 3, 77)
DEVICES = [(H100, 90), (A100, 80), (CONSUMER, 89), (CONSUMER, 120), (None, None)]


def test_model_arithmetic():
    assert block_d(72) == block_d(128) == 128 and block_d(8) == 16 and block_d(256) == 256
    # bf16, d128, 128 x 128 tiles, 3 stages: q 32 KiB + 3 x (k 32 KiB + v 32 KiB), what sm_90 allocates
    assert shared_memory_bytes(128, 128, 128, 2, 3) == 2 * 128 * (128 + 2 * 128 * 3) == 229376
    # a 64-row q tile adds one score tile (row reductions across two warp groups)
    assert shared_memory_bytes(64, 64, 128, 2, 3) == 2 * (128 * (64 + 2 * 64 * 3) + 64 * 64)


@pytest.mark.parametrize("geometry", [FLUX_4K, HUNYUAN, SMALL], ids=["flux-4k", "hunyuan", "small"])
@pytest.mark.parametrize("head_dim", [64, 80, 128, 256])
@pytest.mark.parametrize("element_size", [2, 4])
@pytest.mark.parametrize("memory, capability", DEVICES, ids=["h100", "a100", "rtx4090", "rtx5090", "unknown"])
def test_chosen_tiles_and_every_launch_configuration_fit(geometry, head_dim, element_size, memory, capability):
    budget = TileBudget(head_dim, element_size, memory, capability)
    tiles = choose_tiles(*geometry, budget)
    width = block_d(head_dim)
    assert max(tiles.block_m, tiles.block_n) * width <= REGISTER_TILE_LIMIT
    if element_size == 4:
        assert tiles.block_m * tiles.block_n * width <= FP32_TILE_LIMIT
    elif capability is not None and capability < 90:
        assert tiles.block_m * tiles.block_n * width <= PRE_HOPPER_TILE_LIMIT
    for masked in (False, True):
        for autotune in (False, True):
            configs = launch_configs(budget, tiles.block_m, tiles.block_n, masked, autotune=autotune)
            assert configs and len(configs) == len(set(configs)) and (len(configs) == 1 or autotune)
            for config in configs:
                assert config.warps in (4, 8) and config.stages >= MIN_STAGES
                if memory is not None:
                    assert shared_memory_bytes(tiles.block_m, tiles.block_n, head_dim, element_size,
                                               config.stages) <= memory


def test_hopper_keeps_128_by_128_tiles_and_earlier_gpus_halve_them():
    wide = choose_tiles(*FLUX_4K, TileBudget(256, 2, H100, 90))
    assert wide.block_m == wide.block_n == 64  # head_dim 256: 64-row tiles, as FA2
    big = choose_tiles(*FLUX_4K, TileBudget(128, 2, H100, 90))
    assert (big.block_m, big.block_n) == (128, 128) and big == choose_tiles(*FLUX_4K)
    for memory, capability in [(A100, 80), (CONSUMER, 89), (CONSUMER, 120)]:
        tiles = choose_tiles(*FLUX_4K, TileBudget(128, 2, memory, capability))
        assert tiles.block_m * tiles.block_n == 128 * 64  # the largest the pre-Hopper cap allows


def test_launch_configurations():
    h100 = TileBudget(128, 2, H100, 90)
    # 128 x 128 bf16: 8 warps only, 2 or 3 stages (4 needs 294,912 B); 3 without autotuning
    assert launch_configs(h100, 128, 128) == (LaunchConfig(8, 2), LaunchConfig(8, 3))
    assert launch_configs(h100, 128, 128, autotune=False) == (LaunchConfig(8, 3),)
    # masked 128 x 128 tiles run 2 stages without autotuning (3 spills on sm_90)
    assert launch_configs(h100, 128, 128, True, autotune=False) == (LaunchConfig(8, 2),)
    # small tiles: 4 warps too, every stage count
    assert {c.warps for c in launch_configs(h100, 64, 64)} == {4, 8}
    assert {c.stages for c in launch_configs(h100, 64, 64)} == {2, 3, 4}
    # a 99 KB card holds 2 stages of 128 x 64 bf16 tiles at d128
    assert launch_configs(TileBudget(128, 2, CONSUMER, 89), 128, 64) == (LaunchConfig(8, 2),)


def test_no_fitting_tile_is_an_error_with_the_budget():
    smallest = 2 * (128 * (16 + 2 * 16 * 2) + 16 * 16)  # 16 x 16 tiles, 2 stages
    with pytest.raises(ValueError, match=rf"no tile shape fits TileBudget\(head_dim=128, element_size=2, "
                                         rf"shared_memory=1000, capability=None\) \(the smallest needs {smallest} bytes"):
        choose_tiles(*SMALL, TileBudget(128, 2, 1000))
