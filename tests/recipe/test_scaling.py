"""Tests for na_accel.recipe.scaling: relative windows, overrides, snapping to tiles, and the load-time
ranges of every number scaling multiplies."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

import na_accel
from na_accel import RecipeError, load_recipe
from na_accel.kernels.tilecount import axis_tiles
from na_accel.kernels.tiles import default_tiles
from na_accel.recipe.model import MAX_DENSE_STEPS
from na_accel.recipe.scaling import MAX_AXIS, SnapContext
from na_accel.windows import axis_neighborhood_mask
from helpers.sample_recipes import assert_natten_legal, base_recipe, default_only, one_rule
from helpers.window_oracles import tiles_from_mask


def scaled_recipe(**scaling):
    return load_recipe(base_recipe(layers=[], scaling=scaling))


def test_recipe_without_scaling_resolves_like_windowspec():
    recipe = load_recipe(base_recipe(layers=[]))
    assert recipe.scaling is None
    for grid in [(256, 256), (64, 96), (5, 7), (1, 300)]:
        assert recipe.resolve(recipe.default, grid, SnapContext("hopper-fna")) == recipe.default.resolve(grid)


def test_absolute_mode_is_todays_behaviour():
    recipe = scaled_recipe(mode="absolute")
    for grid in [(256, 256), (64, 96), (5, 7)]:
        assert recipe.resolve(recipe.default, grid) == recipe.default.resolve(grid)


def test_relative_mode_scales_kernel_and_stride_per_axis():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256])
    resolved = recipe.resolve(recipe.default, (128, 64))
    assert resolved.kernel_size == (40, 20) and resolved.stride == (8, 4)
    assert "relative" in resolved.scaled
    assert recipe.resolve(recipe.default, (256, 256)).kernel_size == (80, 80)


def test_relative_mode_takes_the_tuned_grid_from_tuned_for():
    recipe = load_recipe(base_recipe(layers=[], tuned_for={"token_grid": [128, 128]}, scaling={"mode": "relative"}))
    assert recipe.resolve(recipe.default, (64, 64)).kernel_size == (40, 40)


@pytest.mark.parametrize("seed", range(4))
def test_relative_and_snapped_windows_are_always_legal(seed):
    rng = random.Random(seed)
    for snap in (False, "auto", "blackwell-fna", {"q_tile": [3, 5], "kv_tile": [7, 2]}):
        recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap=snap)
        for _ in range(40):
            grid = (rng.choice([1, 2, 3, rng.randint(2, 400)]), rng.randint(1, 400))
            resolved = recipe.resolve(recipe.default, grid, SnapContext("hopper-fna"))
            assert_natten_legal(resolved)


def test_snap_keeps_an_already_perfect_window():
    recipe = scaled_recipe(snap="hopper-fna")
    resolved = recipe.resolve(recipe.default, (256, 256))
    assert (resolved.kernel_size, resolved.stride) == ((80, 80), (16, 16))
    assert resolved.snapped.startswith("snapped to hopper-fna")


@pytest.mark.parametrize("backend", ["hopper-fna", "blackwell-fna", "flex-fna", "cutlass-fna"])
def test_snapped_windows_are_perfectly_block_sparse_where_the_grid_allows(backend):
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="auto")
    tiles = default_tiles(backend, 2)
    for grid in [(64, 64), (128, 128), (64, 96), (96, 64), (128, 72), (192, 320)]:
        resolved = recipe.resolve(recipe.default, grid, SnapContext(backend))
        assert_natten_legal(resolved)
        for axis, n in enumerate(grid):
            counts = axis_tiles(n, resolved.kernel_size[axis], resolved.stride[axis], 1, False,
                                tiles.q_tile[axis], tiles.kv_tile[axis])
            if n % tiles.q_tile[axis] == 0 and n % tiles.kv_tile[axis] == 0:
                assert counts.block_sparse, (backend, grid, resolved)


def test_snapping_on_odd_grids_aligns_interior_windows():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="hopper-fna")
    for grid in [(67, 101), (97, 131), (33, 45), (257, 251)]:  # multiples of nothing
        resolved = recipe.resolve(recipe.default, grid)
        assert_natten_legal(resolved)
        for axis, (tq, tk) in enumerate(((16, 16), (8, 8))):
            k, s = resolved.kernel_size[axis], resolved.stride[axis]
            if k == grid[axis]:
                continue  # whole axis
            assert s % tq == 0 and k % tk == 0 and (k // 2 - s // 2) % tk == 0, (grid, resolved)


def test_an_axis_inside_one_tile_becomes_the_whole_axis():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="flex-fna")
    resolved = recipe.resolve(recipe.default, (5, 40))
    assert resolved.kernel_size[0] == 5 and 0 in resolved.clamped_axes


def test_snap_auto_without_a_backend_leaves_the_window_and_says_so():
    recipe = scaled_recipe(snap="auto")
    resolved = recipe.resolve(recipe.default, (100, 100))
    assert resolved.kernel_size == (80, 80) and "not snapped" in resolved.snapped


def test_explicit_snap_tiles_drop_size_one_axes():
    recipe = load_recipe({"model": "hunyuan_video", "default": {"kernel_size": [3, 12, 12], "stride": [1, 2, 2]},
                          "scaling": {"snap": {"q_tile": [4, 4, 8], "kv_tile": [4, 4, 8]}}})
    resolved = recipe.resolve(recipe.default, (1, 32, 64))
    assert resolved.kernel_size[0] == 1  # the frame axis: dropped
    assert resolved.stride[1] % 4 == 0 and resolved.stride[2] % 8 == 0


def test_overrides_apply_to_their_exact_grid_only():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap="hopper-fna",
                           overrides=[{"grid": [64, 64], "kernel_size": [48, 48], "stride": [16, 16]}])
    at = recipe.resolve(recipe.default, (64, 64))
    assert (at.kernel_size, at.stride, at.snapped) == ((48, 48), (16, 16), None)
    assert "override" in at.scaled
    assert recipe.resolve(recipe.default, (64, 65)).kernel_size != (48, 48)


def test_scaling_changes_the_hash_and_round_trips():
    plain = load_recipe(base_recipe())
    relative = load_recipe(base_recipe(scaling={"mode": "relative", "tuned_grid": [256, 256]}))
    snapped = load_recipe(base_recipe(scaling={"mode": "relative", "tuned_grid": [256, 256], "snap": "auto"}))
    other_grid = load_recipe(base_recipe(scaling={"mode": "relative", "tuned_grid": [128, 128]}))
    assert len({plain.hash, relative.hash, snapped.hash, other_grid.hash}) == 4
    assert load_recipe(snapped.to_dict()) == snapped
    # tuned_for is metadata unless scaling uses it
    assert load_recipe(base_recipe(tuned_for={"token_grid": [1, 1]})).hash == plain.hash
    via_tuned_for = load_recipe(base_recipe(tuned_for={"token_grid": [128, 128]}, scaling={"mode": "relative"}))
    assert via_tuned_for.hash != relative.hash


@pytest.mark.parametrize("scaling,message", [
    ("relative", r"recipe.scaling: expected a mapping"),
    ({"mode": "stretch"}, r"recipe.scaling.mode: unknown mode 'stretch'; allowed: \['absolute', 'relative'\]"),
    ({"mode": "relative"}, r"recipe.scaling.tuned_grid: missing"),
    ({"mode": "relative", "tuned_grid": [256]}, r"recipe.scaling.tuned_grid: expected a list of 2 integers"),
    ({"mode": "relative", "tuned_grid": [256, 0]}, r"tuned_grid\[1\] \(width\): expected an integer >= 1, got 0"),
    ({"snap": "tpu"}, r"recipe.scaling.snap: unknown tile source 'tpu'"),
    ({"snap": {"q_tile": [16, 8]}}, r"recipe.scaling.snap: expected exactly the keys q_tile and kv_tile"),
    ({"snap": {"q_tile": [16, 8], "kv_tile": [16]}}, r"recipe.scaling.snap.kv_tile: expected a list of 2"),
    ({"scale": 2}, r"recipe.scaling: unknown key\(s\) \['scale'\]"),
    ({"overrides": [{"kernel_size": 8}]}, r"recipe.scaling.overrides\[0\]: expected a mapping with 'grid'"),
    ({"overrides": [{"grid": [8, 8], "kernel_size": 9}]}, r"overrides\[0\].kernel_size: kernel 9 x dilation 1"),
    ({"overrides": [{"grid": [8, 8], "kernel_size": 4, "stride": 5}]}, r"stride 5 on axis 0 .* larger than"),
    ({"overrides": [{"grid": [8, 8], "dense": True}]}, r"overrides\[0\].dense"),
    ({"overrides": [{"grid": [8, 8], "kernel_size": 4}, {"grid": [8, 8], "kernel_size": 2}]}, r"given twice"),
])
def test_bad_scaling_sections_name_field_value_and_choices(scaling, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(base_recipe(scaling=scaling))


@pytest.mark.parametrize("height,width", [(1024, 1024), (2048, 2048), (4096, 4096), (1024, 1536), (1360, 768), (1008, 752)])
def test_shipped_flux_gna_at_many_sizes(height, width):
    from na_accel.commands.estimate import estimate_recipe

    result = estimate_recipe("flux_gna", height=height, width=width)
    window = result.rows[0].estimate.window
    assert_natten_legal(window)
    assert not window.covers_grid  # sparse at every listed size (no longer clamped to dense at 1K)
    assert 0.85 <= 1 - result.rows[0].estimate.density <= 0.95  # the relative window keeps ~90% sparsity
    if height % 128 == 0 and width % 128 == 0:  # 16x8 hopper tiles of 16-pixel tokens
        assert result.rows[0].estimate.block_sparse


@pytest.mark.parametrize("height,width,frames", [(720, 1280, 129), (544, 960, 129), (768, 1280, 117)])
def test_shipped_hunyuan_video_gna_sizes(height, width, frames):
    from na_accel.commands.estimate import estimate_recipe

    result = estimate_recipe("hunyuan_video_gna", height=height, width=width, frames=frames)
    window = result.rows[0].estimate.window
    assert_natten_legal(window)
    assert 0.85 <= 1 - result.rows[0].estimate.density <= 0.95
    if result.grid == (30, 48, 80):  # the published configuration, unchanged
        assert (window.kernel_size, window.stride) == ((18, 24, 24), (16, 8, 8))


# ============================================================================================
# Ranges: every number scaling multiplies is bounded at load time (never mid-generation)
# ============================================================================================


RELATIVE = {"mode": "relative", "tuned_grid": [256, 256]}
OUT_OF_RANGE = [
    (default_only(kernel_size=MAX_AXIS + 1), r"recipe\.default\.kernel_size", MAX_AXIS + 1, f"[2, {MAX_AXIS}]"),
    (default_only(kernel_size=[8, 8], stride=[1, MAX_AXIS + 1]), r"recipe\.default\.stride\[1\] \(width\)", MAX_AXIS + 1,
     f"[1, {MAX_AXIS}]"),
    (default_only(kernel_size=8, dilation=MAX_AXIS + 1), r"recipe\.default\.dilation", MAX_AXIS + 1, f"[1, {MAX_AXIS}]"),
    (one_rule({"match": "x", "kernel_size": [8, MAX_AXIS * 4]}), r"recipe\.layers\[0\]\.kernel_size\[1\]", MAX_AXIS * 4,
     f"[2, {MAX_AXIS}]"),
    (base_recipe(dense_steps=MAX_DENSE_STEPS + 1), r"recipe\.dense_steps", MAX_DENSE_STEPS + 1,
     f"[0, {MAX_DENSE_STEPS}]"),
    (base_recipe(scaling={"mode": "relative", "tuned_grid": [256, MAX_AXIS + 1]}),
     r"recipe\.scaling\.tuned_grid\[1\] \(width\)", MAX_AXIS + 1, f"[1, {MAX_AXIS}]"),
    (base_recipe(tuned_for={"token_grid": [MAX_AXIS + 1, 256]}, scaling={"mode": "relative"}),
     r"recipe\.tuned_for\.token_grid\[0\] \(height\)", MAX_AXIS + 1, f"[1, {MAX_AXIS}]"),
    (base_recipe(scaling={"overrides": [{"grid": [8, 10**6], "kernel_size": 4}]}),
     r"recipe\.scaling\.overrides\[0\]\.grid\[1\]", 10**6, f"[1, {MAX_AXIS}]"),
    (base_recipe(scaling={"snap": {"q_tile": [16, 8], "kv_tile": [16, 10**7]}}),
     r"recipe\.scaling\.snap\.kv_tile\[1\]", 10**7, f"[1, {MAX_AXIS}]"),
]


@pytest.mark.parametrize("data, field, value, allowed", OUT_OF_RANGE)
def test_numbers_out_of_range_name_field_value_and_range(data, field, value, allowed):
    with pytest.raises(RecipeError, match=field) as info:
        load_recipe(data)
    assert info.match(rf"\b{value}\b")
    assert allowed in str(info.value)


def test_the_largest_allowed_values_load_and_resolve():
    recipe = load_recipe(base_recipe(layers=[], dense_steps=MAX_DENSE_STEPS, scaling=RELATIVE,
                                     default={"kernel_size": MAX_AXIS, "stride": MAX_AXIS, "dilation": MAX_AXIS}))
    window = recipe.resolve(recipe.default, (5, 7))
    assert window.covers_grid  # clamped to the grid: a huge window is just dense


@pytest.mark.parametrize("kernel", [10**400, 10**20, MAX_AXIS + 1], ids=["10**400", "10**20", "MAX_AXIS+1"])
def test_an_absurd_relative_window_fails_at_patch_not_mid_generation(kernel):
    from na_accel.tiny import TINY_PIPELINES

    factory, call = TINY_PIPELINES["tiny-flux"]
    pipe = factory()
    stock = {name: m.processor for name, m in pipe.transformer.named_modules() if hasattr(m, "processor")}
    absurd = base_recipe(layers=[], default={"kernel_size": kernel, "stride": 1}, scaling=RELATIVE)
    with pytest.raises(RecipeError, match=r"recipe\.default\.kernel_size"):
        na_accel.patch(pipe, absurd, backend="reference")
    assert {name: m.processor for name, m in pipe.transformer.named_modules() if hasattr(m, "processor")} == stock
    pipe(**{**call(), "num_inference_steps": 1})  # the untouched pipeline still generates


# ============================================================================================
# Against independent computations: exact rounding, and snapping checked on tiles cut from masks
# ============================================================================================


def half_up(numerator, denominator):
    """round(numerator / denominator), halves up, in exact integer arithmetic."""
    return math.floor(Fraction(numerator, denominator) + Fraction(1, 2))


def test_relative_scaling_rounds_halves_up_not_to_even():
    recipe = load_recipe({"model": "flux", "default": {"kernel_size": [5, 9], "stride": [5, 1]},
                          "scaling": {"mode": "relative", "tuned_grid": [10, 10]}})
    resolved = recipe.resolve(recipe.default, (5, 5))
    # kernel 5 x 5/10 = 2.5 -> 3 and 9 x 1/2 = 4.5 -> 5 (round() would give 2 and 4); stride 2.5 -> 3, 0.5 -> 1
    assert (resolved.kernel_size, resolved.stride) == ((3, 5), (3, 1))


@pytest.mark.parametrize("seed", range(3))
def test_relative_scaling_matches_exact_rational_arithmetic(seed):
    rng = random.Random(seed)
    for _ in range(60):
        tuned = [rng.randint(4, 300), rng.randint(4, 300)]
        kernel = [rng.randint(2, 120), rng.randint(2, 120)]
        stride = [rng.randint(1, k) for k in kernel]
        grid = (rng.choice([tuned[0], rng.randint(2, 500)]), rng.randint(2, 500))
        recipe = load_recipe({"model": "flux", "default": {"kernel_size": kernel, "stride": stride},
                              "scaling": {"mode": "relative", "tuned_grid": tuned}})
        resolved = recipe.resolve(recipe.default, grid)
        for axis, (n, t, k, s) in enumerate(zip(grid, tuned, kernel, stride)):
            if n != t:
                k = max(2, half_up(k * n, t))
                s = min(max(1, half_up(s * n, t)), k)
            if k > n:  # clamped to the whole axis, as WindowSpec.resolve does
                k, s = n, 1
            assert (resolved.kernel_size[axis], resolved.stride[axis]) == (k, s), (tuned, kernel, stride, grid)


def test_an_override_is_used_as_written_neither_scaled_nor_snapped():
    recipe = scaled_recipe(mode="relative", tuned_grid=[256, 256], snap={"q_tile": [8, 8], "kv_tile": [8, 8]},
                           overrides=[{"grid": [40, 60], "kernel_size": [13, 21], "stride": [3, 5], "dilation": [2, 1]}])
    at = recipe.resolve(recipe.default, (40, 60))
    assert (at.kernel_size, at.stride, at.dilation, at.snapped) == ((13, 21), (3, 5), (2, 1), None)
    transposed = recipe.resolve(recipe.default, (60, 40))  # not the override's grid: scaled and snapped
    assert transposed.snapped and transposed.scaled.startswith("relative")


def snap_cost(k, s, k0, s0):
    return (abs(math.log(k / k0)) + 0.5 * abs(math.log(s / s0)), -k, s)


def mask_tiles(n, k, s, tq, tk):
    return tiles_from_mask(axis_neighborhood_mask(n, k, s, 1, False), 1, tq, tk)


def expected_snap(n, k0, s0, tq, tk):
    """The documented snapping rule for one axis (dilation 1), with every tile count cut from masks."""
    if k0 == n:
        return k0, s0
    candidates = [(k, s) for k in range(tk, n + 1, tk) if k >= 2 for s in range(tq, k + 1, tq)]
    if n % tq == 0 and n % tk == 0:
        fitting = [c for c in candidates if mask_tiles(n, *c, tq, tk)["visited"] == mask_tiles(n, *c, tq, tk)["full"]]
    else:
        fitting = [(k, s) for k, s in candidates if (k // 2 - s // 2) % tk == 0]
    if not fitting:
        return n, 1
    choice = min(fitting, key=lambda c: snap_cost(*c, k0, s0))
    if mask_tiles(n, *choice, tq, tk)["visited"] >= mask_tiles(n, n, 1, tq, tk)["visited"]:
        return n, 1
    return choice


@pytest.mark.parametrize("seed", range(3))
def test_snapping_picks_the_nearest_block_sparse_window_counted_on_masks(seed):
    rng = random.Random(seed)
    for _ in range(8):
        tq, tk = rng.choice([4, 8]), rng.choice([4, 8])
        n = rng.choice([16, 24, 32, 40, 48, 20, 27, 33, 44])
        k0 = rng.randint(2, n)
        s0 = rng.randint(1, k0)
        recipe = load_recipe({"model": "flux", "default": {"kernel_size": [k0, 2], "stride": [s0, 1]},
                              "scaling": {"snap": {"q_tile": [tq, 1], "kv_tile": [tk, 1]}}})
        resolved = recipe.resolve(recipe.default, (n, 2))
        k, s = resolved.kernel_size[0], resolved.stride[0]
        assert (k, s) == expected_snap(n, k0, s0, tq, tk), (n, k0, s0, tq, tk)
        counts = mask_tiles(n, k, s, tq, tk)
        if n % tq == 0 and n % tk == 0 and k < n:
            assert counts["visited"] == counts["full"], (n, k, s, tq, tk)  # perfectly block-sparse
