"""Tests for na_accel.commands.estimate / tilecount / tiles: figures, brute-force tile counts, CLI."""

from __future__ import annotations

import itertools
import json
import math
import random

from pathlib import Path

import pytest
import torch

from na_accel import ArgumentError, RecipeError, WindowSpec
from na_accel.cli import main
from na_accel.kernels.window_cost import estimate_window
from na_accel.commands.estimate import estimate_recipe, format_estimate
from na_accel.windows import axis_neighborhood_mask, masks, visual_neighborhood_mask
from na_accel.kernels import tilecount
from na_accel.kernels.tilecount import axis_tiles
from na_accel.kernels.tiles import TILE_BACKENDS, TileShape, default_tiles, pick_tiles, tile_options
from helpers.window_oracles import tiles_from_mask


def spec(kernel, stride=None, dilation=None, causal=None):
    rank = len(kernel)
    return WindowSpec(tuple(kernel), tuple(stride or (1,) * rank), tuple(dilation or (1,) * rank),
                      tuple(causal or (False,) * rank))


# ============================================================================================
# 1. NATTEN's published figures (NOTES §3)
# ============================================================================================


def test_flux_4k_figures_and_perfect_block_sparsity_on_hopper_tiles():
    tiles = default_tiles("hopper-fna", 2, head_dim=128)
    assert (tiles.q_tile, tiles.kv_tile) == ((16, 8), (16, 8))  # read from NATTEN's table
    est = estimate_window(spec((80, 80), (16, 16)).resolve((256, 256)), tiles)
    assert 1 - est.density == pytest.approx(0.90, abs=0.005)  # ~90% sparse
    assert round(est.flop_bound, 1) == 10.2
    assert est.block_sparse is True
    assert est.tile_bound == pytest.approx(est.flop_bound)  # perfectly block-sparse: no tile waste
    assert est.tile_utilization == pytest.approx(1.0)


def test_flux_4k_is_block_sparse_on_blackwell_tiles_too():
    tiles = default_tiles("blackwell-fna", 2)
    assert (tiles.q_tile, tiles.kv_tile) == ((16, 16), (16, 8))
    assert estimate_window(spec((80, 80), (16, 16)).resolve((256, 256)), tiles).block_sparse is True


def test_hunyuan_video_figures():
    tiles = default_tiles("hopper-fna", 3, head_dim=128)
    est = estimate_window(spec((18, 24, 24), (16, 8, 8)).resolve((30, 48, 80)), tiles)
    assert 1 - est.density == pytest.approx(0.91, abs=0.005)
    assert round(est.flop_bound, 1) == 11.1
    # 30 frames and an 18-frame window don't fall on 4-frame tiles: partly used tiles cost extra.
    assert est.block_sparse is False
    assert 1.0 < est.tile_bound < est.flop_bound


def test_recipe_estimates_reproduce_the_figures_through_the_cli_path():
    flux = estimate_recipe({"model": "flux", "default": {"kernel_size": 80, "stride": 16}},
                           height=4096, width=4096)
    assert flux.grid == (256, 256) and flux.backend == "hopper-fna"
    (row,) = flux.rows
    assert len(row.layers) == 57 and round(row.estimate.flop_bound, 1) == 10.2 and row.estimate.block_sparse
    hunyuan = estimate_recipe({"model": "hunyuan_video",
                               "default": {"kernel_size": [18, 24, 24], "stride": [16, 8, 8]}},
                              height=768, width=1280, frames=117)
    assert hunyuan.grid == (30, 48, 80)
    assert round(hunyuan.rows[0].estimate.flop_bound, 1) == 11.1


# ============================================================================================
# 2. Tile counts against a brute-force count over reference masks
# ============================================================================================


def brute_force_tiles(window, q_tile, kv_tile):
    """(visited, full) tile pairs by cutting the N-D reference mask into N-D tiles.

    Tokens are placed as the kernel sees them: per axis, each dilation group is contiguous and
    tiled on its own (last tile padded).
    """
    grid = window.grid
    mask = visual_neighborhood_mask(grid, window)
    coords = list(itertools.product(*(range(n) for n in grid)))

    def tile_of(coord, tile):
        key = []
        for a, (p, t) in enumerate(zip(coord, tile)):
            d = window.dilation[a]
            key.append((p % d, (p // d) // t))
        return tuple(key)

    def tile_sizes(tile):
        sizes = {}
        for coord in coords:
            sizes.setdefault(tile_of(coord, tile), []).append(coords.index(coord))
        return sizes

    q_tiles, kv_tiles = tile_sizes(q_tile), tile_sizes(kv_tile)
    q_full, kv_full = math.prod(q_tile), math.prod(kv_tile)
    visited = full = 0
    for q_members in q_tiles.values():
        for kv_members in kv_tiles.values():
            block = mask[q_members][:, kv_members]
            if block.any():
                visited += 1
                if block.all() and len(q_members) == q_full and len(kv_members) == kv_full:
                    full += 1
    return visited, full, mask.float().mean().item()


def random_window(rng, rank):
    grid = tuple(rng.randint(2, 13 if rank == 2 else 7) for _ in range(rank))
    kernel, stride, dilation, causal = [], [], [], []
    for n in grid:
        d = rng.choice([1, 1, 1, 2]) if n >= 4 else 1
        k = rng.randint(2, n // d)
        kernel.append(k)
        stride.append(rng.randint(1, k))
        dilation.append(d)
        causal.append(rng.random() < 0.15)
    return spec(kernel, stride, dilation, causal).resolve(grid)


@pytest.mark.parametrize("rank", [2, 3])
def test_tile_counts_match_brute_force(rank):
    rng = random.Random(rank)
    for _ in range(25 if rank == 2 else 12):
        window = random_window(rng, rank)
        if window.covers_grid:
            continue
        q = tuple(rng.choice([1, 2, 3, 4]) for _ in range(rank))
        kv = tuple(rng.choice([1, 2, 4, 5]) for _ in range(rank))
        est = estimate_window(window, TileShape(q, kv, "explicit", "test"))
        visited, full, density = brute_force_tiles(window, q, kv)
        assert (est.visited_pairs, est.full_pairs) == (visited, full), (window, q, kv)
        assert est.density == pytest.approx(density)
        assert est.density == pytest.approx(window.density)
        assert est.block_sparse == (visited == full)


def test_brute_force_finds_perfect_and_imperfect_cases():
    # Guards the brute force itself: aligned windows on tile-multiple grids are perfect, others not.
    straddling = spec((4, 4), (2, 2)).resolve((8, 8))  # windows start at odd offsets
    aligned = spec((4, 4), (4, 4)).resolve((8, 8))  # blocked 4x4 windows on 4x4 tiles
    v, f, _ = brute_force_tiles(aligned, (4, 4), (4, 4))
    assert v == f == 4
    v, f, _ = brute_force_tiles(straddling, (2, 2), (4, 4))
    assert v > f  # windows of 4 starting at odd offsets straddle kv tiles


@pytest.mark.parametrize("window, tiles", [
    (spec((80, 80), (16, 16)).resolve((512, 512)), default_tiles("hopper-fna", 2)),
    (spec((18, 24, 24), (16, 8, 8)).resolve((33, 45, 80)), default_tiles("hopper-fna", 3)),
])
def test_estimate_at_4k_and_video_sizes_works_per_axis_never_on_the_token_grid(monkeypatch, window, tiles):
    # per axis, tile pairs cut from the axis's own mask; the N-D counts are their products
    per_axis = [tiles_from_mask(axis_neighborhood_mask(n, k, s, d, c), d, tq, tk) for n, k, s, d, c, tq, tk in
                zip(window.grid, window.kernel_size, window.stride, window.dilation, window.is_causal,
                    tiles.q_tile, tiles.kv_tile)]
    lengths = []
    real_axis_ranges = tilecount.axis_ranges

    def counting_axis_ranges(n, *args):
        lengths.append(n)
        return real_axis_ranges(n, *args)

    def no_masks(*args, **kwargs):
        raise AssertionError("the estimate built a token mask")

    monkeypatch.setattr(tilecount, "axis_ranges", counting_axis_ranges)
    for name in ("axis_neighborhood_mask", "visual_neighborhood_mask", "joint_attention_mask"):
        monkeypatch.setattr(masks, name, no_masks)
    est = estimate_window(window, tiles)
    assert lengths == list(window.grid)  # one pass over each axis: work grows with the axis lengths
    assert est.visited_pairs == math.prod(a["visited"] for a in per_axis)
    assert est.full_pairs == math.prod(a["full"] for a in per_axis)
    assert est.density == pytest.approx(math.prod(a["attended"] / n ** 2 for a, n in zip(per_axis, window.grid)))


def test_axis_counts_are_per_axis_products():
    window = spec((6, 5), (2, 3)).resolve((12, 10))
    est = estimate_window(window, TileShape((4, 2), (4, 5), "explicit", "test"))
    a = axis_tiles(12, 6, 2, 1, False, 4, 4)
    b = axis_tiles(10, 5, 3, 1, False, 2, 5)
    assert est.visited_pairs == a.visited * b.visited
    assert est.dense_pairs == math.ceil(120 / 8) * math.ceil(120 / 20)


def test_size_one_axes_are_dropped_like_the_attention_core():
    window = spec((2, 6, 6), (1, 2, 2)).resolve((1, 12, 16))  # one frame: NATTEN sees a 2-D grid
    est = estimate_window(window, default_tiles("flex-fna", 2))
    flat = estimate_window(spec((6, 6), (2, 2)).resolve((12, 16)), default_tiles("flex-fna", 2))
    assert est.visited_pairs == flat.visited_pairs and est.density == pytest.approx(flat.density)


def test_full_window_is_dense():
    est = estimate_window(spec((8, 8)).resolve((8, 8)), default_tiles("hopper-fna", 2))
    assert est.dense and est.flop_bound == 1.0 and est.tile_bound == 1.0


# ============================================================================================
# 3. Tile tables
# ============================================================================================


@pytest.mark.parametrize("backend", TILE_BACKENDS)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_every_backend_has_a_default_tile_listed_by_natten(backend, rank):
    options = tile_options(backend, rank, head_dim=128)
    assert options and all(len(o.q_tile) == len(o.kv_tile) == rank for o in options)
    assert "default" in options[0].source
    assert len({(o.q_tile, o.kv_tile) for o in options}) == len(options)


def test_user_can_pick_a_listed_tile_and_bad_picks_name_the_choices():
    assert pick_tiles("hopper-fna", 3, 128, 16, (2, 8, 8), (2, 8, 8)).q_tile == (2, 8, 8)
    with pytest.raises(ArgumentError, match=r"not a hopper-fna configuration.*4x4x8/4x4x8"):
        pick_tiles("hopper-fna", 3, 128, 16, (8, 8, 8), (4, 4, 8))
    with pytest.raises(ArgumentError, match=r"head_dim 16.*\[32, 64, 128, 256\]"):
        default_tiles("hopper-fna", 2, head_dim=16)
    with pytest.raises(ArgumentError, match="q_tile and kv_tile"):
        pick_tiles("flex-fna", 2, 128, 16, (8, 8), None)


# ============================================================================================
# 4. Recipe estimates and the end-to-end formula
# ============================================================================================


def test_end_to_end_is_amdahl_on_the_given_share():
    recipe = {"model": "flux", "default": {"kernel_size": 80, "stride": 16},
              "layers": [{"match": "transformer_blocks.*", "dense": True}]}
    result = estimate_recipe(recipe, height=4096, width=4096, attention_share=0.6)
    sources = {row.source: len(row.layers) for row in result.rows}
    assert sources == {"dense: recipe layers[0] (match 'transformer_blocks.*')": 19, "default": 38}
    assert result.end_to_end == pytest.approx(1 / (0.4 + 0.6 / result.attention_speedup))
    # 19 of 57 layers dense: attention can't get more than 57/19 = 3x faster.
    assert 1 < result.attention_speedup < 3


def test_dense_steps_lower_the_estimate():
    base = {"model": "flux", "default": {"kernel_size": 80, "stride": 16}}
    fast = estimate_recipe(base, height=4096, width=4096, attention_share=0.5, steps=20)
    slow = estimate_recipe({**base, "dense_steps": 10}, height=4096, width=4096, attention_share=0.5, steps=20)
    assert slow.end_to_end < fast.end_to_end


def test_default_share_grows_with_resolution():
    # 1536 and 3072: sizes no shipped profile measured, so the share is the analytic one
    small = estimate_recipe("flux_gna", height=1536, width=1536)
    large = estimate_recipe("flux_gna", height=3072, width=3072)
    assert 0 < small.attention_share < large.attention_share < 1
    assert small.attention_share_source.startswith("only analytic")


def test_a_measured_share_is_used_where_the_profile_measured_the_family_and_size():
    measured = estimate_recipe("flux_gna", height=1024, width=1024, device="NVIDIA H100 80GB HBM3")
    assert measured.attention_share_source.startswith("measured on NVIDIA H100 80GB HBM3")
    assert "bench-flux-dev-1024.json" in measured.attention_share_source
    # the share is the measured SDPA time x layers / the measured dense step
    results = Path(__file__).resolve().parents[2] / "eval" / "results"
    bench = json.loads((results / "bench-flux-dev-1024.json").read_text())["runs"]["dense"]
    case = next(c for c in json.loads((results / "attention-h100.json").read_text())["results"]
                if c["case"] == "flux-1k")
    assert measured.attention_share == pytest.approx(case["dense_s"]["cudnn"] * 57 / bench["median_s"])
    elsewhere = estimate_recipe("flux_gna", height=1024, width=1024, device="NVIDIA A100-SXM4-80GB")
    assert elsewhere.attention_share_source.startswith("only analytic")
    assert any("no cost profile for NVIDIA A100-SXM4-80GB" in n for n in elsewhere.notes)


def test_the_cost_model_prices_rows_with_the_profiles_constants():
    result = estimate_recipe("flux_gna", height=4096, width=4096, backend="triton", device="NVIDIA H100 80GB HBM3")
    (row,) = result.rows
    assert row.cost is not None and row.cost.sparse_pays and row.to_dict()["speed_gate"] == "sparse"
    # the measured flux-4k case: 13.55 ms triton vs 83.3 ms cuDNN on the H100
    assert row.cost.sparse_s == pytest.approx(0.01355, rel=0.1) and row.cost.dense_s == pytest.approx(0.0833, rel=0.1)
    assert result.modelled_attention_speedup == pytest.approx(row.cost.speedup)
    text = format_estimate(result)
    assert "ESTIMATE from measured constants" in text and "-> runs sparse" in text


@pytest.mark.parametrize("kwargs,message", [
    (dict(backend="cudnn"), "backend: 'cudnn' has no tile tables"),
    (dict(height=8), "height: 8 is not valid for flux"),
    (dict(frames=5), "frames: 5 is not valid for flux"),
    (dict(attention_share=1.5), "--attention-share: 1.5 is not valid; allowed: a number in [0, 1]"),
    (dict(attention_share="0.5"), "--attention-share: '0.5' is not valid; allowed: a number in [0, 1]"),
    (dict(attention_share=True), "--attention-share: True is not valid; allowed: a number in [0, 1]"),
    (dict(height=100), "--height: 100 is not valid for flux; allowed: a multiple of 16 pixels in [16, 1048576]"),
    (dict(height=4096.0), "--height: 4096.0 is not valid for flux"),
    (dict(head_dim=48), "head_dim: hopper-fna has no tiles for head_dim 48"),
    (dict(steps=0), "--steps: 0 is not valid; allowed: an integer in [1, 1000]"),
    (dict(steps=1001), "--steps: 1001 is not valid; allowed: an integer in [1, 1000]"),
    (dict(height=2**31), "--height: 2147483648 is not valid for flux; allowed: a multiple of 16 pixels in [16, 1048576]"),
    (dict(height=65536, width=65536), "--height x --width: 65536x65536 pixels is 4096x4096 = 16,777,216 tokens for flux; allowed: at most 4,194,304 tokens"),
    (dict(head_dim=True), "--head-dim: True is not valid; allowed: an integer in [1, 1024]"),
    (dict(head_dim=2**40), "--head-dim: 1099511627776 is not valid; allowed: an integer in [1, 1024]"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ArgumentError) as info:
        estimate_recipe("flux_gna", **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("model,family", [("flux-dev", "flux"), ("tiny-flux", "flux"), ("wan-14b", "wan")])
def test_a_model_name_of_bench_and_compare_stands_for_its_family(model, family):
    recipe = {"flux": "flux_gna", "wan": "wan_gna"}[family]
    assert estimate_recipe(recipe, model=model).to_dict() == estimate_recipe(recipe, model=family).to_dict()


def test_an_unknown_model_lists_families_and_model_names():
    with pytest.raises(ArgumentError, match=r"--model: unknown model 'fluxx'; allowed: a model family \[.*'flux'.*\] "
                                            r"or a model name of `na-accel models` \[.*'flux-dev'"):
        estimate_recipe("flux_gna", model="fluxx")


def test_a_recipe_for_another_family_is_refused():
    with pytest.raises(RecipeError) as info:
        estimate_recipe("flux_gna", model="wan")
    assert "model: recipe flux_gna is for model family 'flux', but the estimate's model is 'wan'" in str(info.value)


def test_a_rule_that_matches_no_layer_of_the_full_size_model_is_refused():
    recipe = {"model": "wan", "default": {"kernel_size": [3, 9, 9]}, "layers": [{"match": "blocks.*.attn", "dense": True}]}
    with pytest.raises(RecipeError, match=r"layers\[0\] \(match 'blocks\.\*\.attn'\) matches no attention layer of wan"
                                          r".*close names: blocks\.\d+\.attn1"):
        estimate_recipe(recipe)


def test_wan_frames_must_be_4k_plus_1():
    with pytest.raises(ArgumentError, match=r"--frames: 6 is not valid for wan; allowed: 4k\+1 frames"):
        estimate_recipe("wan_gna", frames=6)
    assert estimate_recipe("wan_gna", frames=5).grid[0] == 2


# ============================================================================================
# 5. CLI
# ============================================================================================


def test_cli_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "est.json"
    assert main(["estimate", "--recipe", "flux_gna", "--model", "flux", "--height", "4096", "--width", "4096",
                 "--backend", "hopper-fna", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "token grid 256x256" in text and "10.2x" in text and "ESTIMATE (not a measurement)" in text
    data = json.loads(out.read_text())
    window = data["rows"][0]["window"]
    assert window["kernel_size"] == [80, 80] and window["perfectly_block_sparse"] is True
    assert data["tiles"]["q_tile"] == [16, 8]


def test_cli_video_and_explicit_tiles(capsys):
    assert main(["estimate", "--recipe", "hunyuan_video_gna", "--height", "720", "--width", "1280",
                 "--frames", "129", "--q-tile", "2x8x8", "--kv-tile", "2x8x8"]) == 0
    text = capsys.readouterr().out
    assert "token grid 33x45x80" in text and "q tile 2x8x8" in text


@pytest.mark.parametrize("argv,message", [
    (["--backend", "cudnn"], "has no tile tables"),
    (["--q-tile", "16xa", "--kv-tile", "16x8"], "--q-tile: '16xa' is not a tile shape"),
    (["--height", "4"], "height: 4 is not valid"),
    (["--recipe", "nope"], "unknown shipped recipe 'nope'"),
])
def test_cli_bad_arguments_exit_2(argv, message, capsys):
    args = ["estimate", "--recipe", "flux_gna"] + argv
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("size", [["--height", "100"], ["--width", "70"], ["--frames", "2"]])
def test_estimate_refuses_the_sizes_bench_refuses_with_the_same_message(size, capsys):
    assert main(["bench", "tiny-flux", "--recipe", "flux_gna", "--no-progress", *size]) == 2
    bench_error = capsys.readouterr().err.replace("tiny-flux", "<model>")
    assert main(["estimate", "--recipe", "flux_gna", *size]) == 2
    estimate_error = capsys.readouterr().err.replace("for flux", "for <model>")
    assert estimate_error == bench_error and f"{size[0]}: {size[1]} is not valid for <model>" in bench_error


def test_estimate_checks_its_json_path_before_estimating(tmp_path, capsys):
    assert main(["estimate", "--recipe", "flux_gna", "--json", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert f"--json: {str(tmp_path)!r} is a folder" in captured.err and "token grid" not in captured.out


# ============================================================================================
# 6. The patch path and describe use the same resolution as the estimator
# ============================================================================================


@pytest.mark.slow
def test_patched_pipeline_runs_the_snapped_window_and_describe_reports_it():
    import na_accel
    from na_accel.recipe.scaling import SnapContext
    from na_accel.tiny import flux_transformer_inputs, tiny_flux_transformer

    recipe = na_accel.load_recipe({
        "model": "flux",
        "default": {"kernel_size": [10, 14], "stride": [2, 3]},
        "scaling": {"mode": "relative", "tuned_grid": [32, 48], "snap": "auto"},
    })
    grid = (16, 24)
    expected = recipe.resolve(recipe.default, grid, SnapContext("flex-fna", 16, 32))
    assert expected.snapped and not expected.covers_grid
    assert (expected.kernel_size, expected.stride) != ((5, 7), (1, 2))  # snapping changed something

    transformer = tiny_flux_transformer(seed=0)
    outputs = {}
    for backend in ("auto", "reference"):  # reference takes the tiles of what auto runs (flex-fna)
        na_accel.patch(transformer, recipe, backend=backend)
        with torch.no_grad():
            outputs[backend] = transformer(**flux_transformer_inputs(*grid, 1, 4, 0)).sample
        layer = na_accel.describe(transformer).transformers[0].layers[0]
        assert layer.last_window == expected.describe()
        assert "snapped to flex-fna" in layer.last_window
        assert layer.last_estimate["perfectly_block_sparse"] is True
        assert "tile bound" in layer.last_estimate_text and "perfectly block-sparse" in layer.last_estimate_text
        na_accel.unpatch(transformer)
    assert (outputs["auto"] - outputs["reference"]).abs().max().item() <= 1e-5


def test_named_snap_tiles_are_checked_at_patch_time():
    import na_accel
    from na_accel.tiny import tiny_flux_transformer

    recipe = {"model": "flux", "default": {"kernel_size": 4}, "scaling": {"snap": "hopper-fna"}}
    with pytest.raises(na_accel.RecipeError, match=r"recipe.scaling.snap: cannot snap to hopper-fna tiles.*head_dim 16"):
        na_accel.patch(tiny_flux_transformer(seed=0), recipe)


def test_cli_takes_the_attention_share_measured_by_bench(tmp_path, capsys):
    bench_json = tmp_path / "bench.json"
    assert main(["bench", "tiny-flux", "--recipe", "flux_gna", "--height", "64", "--width", "80", "--steps", "1",
                 "--repeats", "1", "--warmup", "0", "--no-progress", "--json", str(bench_json)]) == 0
    measured = json.loads(bench_json.read_text())["runs"]["dense"]["attention_share"]
    capsys.readouterr()
    out_json = tmp_path / "estimate.json"
    argv = ["estimate", "--recipe", "flux_gna", "--height", "64", "--width", "80", "--json", str(out_json)]
    assert main([*argv, "--bench-json", str(bench_json)]) == 0
    estimate = json.loads(out_json.read_text())
    assert estimate["attention_share"] == pytest.approx(measured)
    assert "measured by na-accel bench" in estimate["attention_share_source"]
    assert "NOT a GPU measurement" in capsys.readouterr().out

    # The share belongs to one size and one family: anything else is refused, clearly.
    assert main(["estimate", "--recipe", "flux_gna", "--height", "128", "--width", "80",
                 "--bench-json", str(bench_json)]) == 2
    assert "measured token grid 4x5" in capsys.readouterr().err
    assert main(["estimate", "--recipe", "wan_gna", "--bench-json", str(bench_json)]) == 2
    assert "measured model family 'flux'" in capsys.readouterr().err
    assert main([*argv, "--bench-json", str(tmp_path / "missing.json")]) == 2
    assert main([*argv, "--bench-json", str(bench_json), "--attention-share", "0.5"]) == 2
