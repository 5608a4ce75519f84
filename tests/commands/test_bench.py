"""na-accel bench: dense vs patched timings, JSON with the documented fields, clear argument errors."""

import json

import pytest

from na_accel.cli import main
from na_accel.recipe.parse import load_recipe

SPARSE_RECIPE = "model: flux\ndense_steps: 1\ndefault: {kernel_size: [3, 3], stride: [1, 1]}\n"
SMALL = ["--height", "64", "--width", "80", "--steps", "2", "--no-progress"]
TOY_FLUX = ["--config-override", "num_layers=1", "--config-override", "num_single_layers=1",
            "--config-override", "num_attention_heads=2", "--config-override", "attention_head_dim=16",
            "--config-override", "joint_attention_dim=32", "--config-override", "axes_dims_rope=[4,6,6]",
            "--text-len", "4"]


@pytest.fixture(scope="module")
def recipe_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("recipes") / "sparse3.yaml"
    path.write_text(SPARSE_RECIPE)
    return path


@pytest.fixture(scope="module")
def bench_run(recipe_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["bench", "tiny-flux", "--recipe", str(recipe_path), "--warmup", "1", "--repeats", "2",
                     "--json", str(path), *SMALL])
    return code, out.getvalue(), json.loads(path.read_text()), path


@pytest.mark.slow
def test_bench_runs_end_to_end_and_prints_a_table(bench_run):
    code, out, _, path = bench_run
    assert code == 0
    assert "dense " in out and "patched " in out and "median s" in out
    assert "token grid 4x5" in out
    assert "NOTE: CPU timings say nothing about GPU speed" in out
    assert f"Wrote {path}" in out


def test_bench_json_has_the_documented_fields(bench_run, recipe_path):
    _, _, result, _ = bench_run
    for key in ("command", "device", "versions", "model", "arguments", "token_grid", "recipe", "backend",
                "layer_calls", "runs", "speedup", "output_max_abs_diff"):
        assert key in result, key
    assert result["device"]["type"] == "cpu" and "GPU speed" in result["device"]["note"]
    assert set(result["versions"]) >= {"torch", "diffusers", "natten", "na_accel"}
    assert result["recipe"] == {"name": "sparse3", "hash": load_recipe(recipe_path).hash, "dense_steps": 1,
                                "dense_final_steps": 0, "loaded_from": f"file {str(recipe_path.resolve())!r}"}
    assert result["backend"]["used"] == {"transformer": {"cpu float32": "flex-fna"}}
    assert result["model"]["name"] == "tiny-flux" and result["model"]["source"] == "tiny preset"
    assert result["arguments"]["steps"] == 2 and result["arguments"]["height"] == 64


def test_bench_counts_sparse_and_dense_layer_calls(bench_run):
    calls = bench_run[2]["layer_calls"]
    layers, runs = 4, 3  # tiny FLUX: 2 dual + 2 single blocks; 1 warm-up + 2 repeats; step 0 dense, step 1 sparse
    assert calls["runs_counted"] == runs
    assert calls["sparse"] == layers * runs
    assert calls["dense"] == layers * runs
    assert calls["dense_by_reason"] == {"dense step (step < dense_steps=1)": layers * runs}


def test_bench_timings_are_consistent(bench_run):
    runs = bench_run[2]["runs"]
    for mode in ("dense", "patched"):
        run = runs[mode]
        assert len(run["warmup"]) == 1 and len(run["repeats"]) == 2
        totals = [r["total_s"] for r in run["repeats"]]
        assert run["min_s"] == min(totals) and run["max_s"] == max(totals)
        assert run["min_s"] <= run["median_s"] <= run["max_s"] and run["iqr_s"] >= 0
        assert len(run["per_step_median_s"]) == 2
        for repeat in run["repeats"]:
            assert repeat["transformer_calls"] == 2 and repeat["attention_calls"] == 2 * 4
            assert sum(repeat["per_step_s"]) == pytest.approx(repeat["transformer_s"])
            assert 0 < repeat["attention_s"] <= repeat["transformer_s"] <= repeat["total_s"]
        assert 0 < run["attention_share"] < 1
        assert run["peak_memory_bytes"] is None and "CUDA" in run["peak_memory_note"]
    assert bench_run[2]["speedup"] == pytest.approx(runs["dense"]["median_s"] / runs["patched"]["median_s"])
    # warm-ups first, then timed repeats alternating so drift falls on both modes
    assert bench_run[2]["run_order"] == [
        "dense warmup", "patched warmup", "dense repeats", "patched repeats", "patched repeats", "dense repeats"
    ]


def test_bench_random_weights_with_a_shrunk_config(recipe_path, tmp_path, capsys):
    path = tmp_path / "rw.json"
    code = main(["bench", "flux-dev", "--random-weights", *TOY_FLUX, "--recipe", str(recipe_path),
                 "--warmup", "0", "--repeats", "1", "--json", str(path), *SMALL])
    assert code == 0, capsys.readouterr().err
    result = json.loads(path.read_text())
    assert result["model"]["source"] == "random weights"
    assert result["model"]["config_overrides"]["num_layers"] == 1
    assert result["model"]["parameters"] < 1_000_000
    assert result["layer_calls"]["sparse"] == 2 and result["runs"]["dense"]["warmup"] == []


@pytest.mark.parametrize("argv,message", [
    (["bench", "sdxl", "--recipe", "flux_gna"], "unknown model 'sdxl'; known: tiny-flux"),
    (["bench", "tiny-flux", "--recipe", "flux_gna", "--height", "100"],
     "--height: 100 is not valid for tiny-flux; allowed: a multiple of 16 pixels in [16, 1048576]"),
    (["bench", "tiny-flux", "--recipe", "flux_gna", "--height", "0"],
     "--height: 0 is not valid for tiny-flux; allowed: a multiple of 16 pixels in [16, 1048576]"),
    (["bench", "tiny-flux", "--recipe", "nope"], "unknown shipped recipe 'nope'"),
    (["bench", "tiny-flux", "--recipe", "hunyuan_video_gna"],
     "--recipe: hunyuan_video_gna is for model family 'hunyuan_video', but tiny-flux is 'flux'"),
    (["bench", "tiny-flux", "--recipe", "flux_gna", "--steps", "0"], "--steps: 0 is not valid; allowed: an integer in [1, 1000]"),
    (["bench", "tiny-cosmos2-t2i", "--recipe", "cosmos_gna", "--frames", "9"],
     "--frames: 9 is not valid for tiny-cosmos2-t2i, an image model; allowed: 1 or none"),
    (["bench", "tiny-flux", "--recipe", "flux_gna", "--frames", "9"], "--frames: 9 is not valid for tiny-flux"),
    (["bench", "flux-dev", "--random-weights", "--recipe", "flux_gna", "--device", "cpu"], "refused on the CPU"),
    (["bench", "flux-dev", "--recipe", "flux_gna"], "add --random-weights"),
    (["bench", "tiny-flux", "--recipe", "flux_gna", "--backend", "cudnn"], "unknown backend 'cudnn'"),
])
def test_bad_arguments_exit_2_with_a_clear_message(argv, message, capsys):
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_no_speedup_is_reported_when_nothing_ran_sparse(tmp_path, capsys):
    path = tmp_path / "dense.json"
    code = main(["bench", "tiny-flux", "--recipe", "flux_gna", "--repeats", "1", "--json", str(path), *SMALL])
    result = json.loads(path.read_text())
    assert code == 0
    assert result["layer_calls"]["sparse"] == 0  # flux_gna's 80x80 window covers the 4x5 grid
    assert result["speedup"] is None and "no attention call ran sparse" in result["speedup_note"]
    assert "speedup: none reported" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_times_both_wan22_experts_and_only_their_self_attention(tmp_path):
    path = tmp_path / "wan22.json"
    recipe = tmp_path / "wan.yaml"
    recipe.write_text("model: wan\ndense_steps: 0\ndefault: {kernel_size: [2, 2, 3]}\n")
    code = main(["bench", "tiny-wan2.2", "--recipe", str(recipe), "--steps", "3", "--repeats", "1",
                 "--no-progress", "--json", str(path)])
    result = json.loads(path.read_text())
    assert code == 0 and result["speedup"] is not None
    run = result["runs"]["patched"]["repeats"][0]
    layers = 2  # blocks.{0,1}.attn1 of each expert; attn2 (cross attention) is not timed
    assert run["transformer_calls"] == 2 * 3  # CFG: two calls per step, over both experts
    assert run["attention_calls"] == layers * run["transformer_calls"]
    assert len(run["per_step_s"]) == 3
    assert result["layer_calls"]["sparse"] == result["runs"]["patched"]["repeats"][0]["attention_calls"] * 2


@pytest.mark.parametrize("where,message", [
    ("folder", "is a folder"),
    ("file in the way", "is a file, not a folder"),
    ("unwritable", "cannot write '/sys/na_accel_test/bench.json'"),
])
def test_the_json_path_is_checked_before_anything_runs(where, message, tmp_path, capsys, monkeypatch):
    import na_accel.models.zoo

    def no_model(*args, **kwargs):
        raise AssertionError("the model was built before --json was checked")

    monkeypatch.setattr(na_accel.models.zoo, "load_model", no_model)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    path = {"folder": tmp_path, "file in the way": blocker / "bench.json",
            "unwritable": "/sys/na_accel_test/bench.json"}[where]
    assert main(["bench", "tiny-flux", "--recipe", "flux_gna", "--json", str(path), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "--json: " in err and message in err and "Traceback" not in err
