"""na-accel compare: dense vs patched pictures, metrics JSON, HTML report for a prompt file."""

import json

import numpy
import pytest
from PIL import Image

from na_accel.cli import main

SPARSE_RECIPE = "model: flux\ndense_steps: 1\ndefault: {kernel_size: [3, 3], stride: [1, 1]}\n"
SMALL = ["--height", "64", "--width", "80", "--steps", "2", "--no-progress"]


@pytest.fixture(scope="module")
def recipe_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("recipes") / "sparse3.yaml"
    path.write_text(SPARSE_RECIPE)
    return path


def test_compare_one_prompt_writes_pictures_and_metrics(recipe_path, tmp_path, capsys):
    out_dir = tmp_path / "cmp"
    code = main(["compare", "tiny-flux", "--recipe", str(recipe_path), "--prompt", "a cat", "--seed", "3",
                 "--output-dir", str(out_dir), *SMALL])
    stdout = capsys.readouterr().out
    assert code == 0
    for name in ("dense.png", "patched.png", "side_by_side.png", "metrics.json"):
        assert (out_dir / name).is_file(), name
        assert name in stdout
    assert f"Outputs in {out_dir}/" in stdout
    assert "lpips: skipped (no --lpips-weights given" in stdout
    with Image.open(out_dir / "side_by_side.png") as image:
        assert image.size == (3 * 80, 64)
    with Image.open(out_dir / "dense.png") as dense, Image.open(out_dir / "patched.png") as patched:
        assert dense.size == (80, 64)
        difference = numpy.abs(numpy.asarray(dense, dtype=float) - numpy.asarray(patched, dtype=float))
    result = json.loads((out_dir / "metrics.json").read_text())
    metrics = result["outputs"][0]["metrics"]
    assert result["outputs"][0]["prompt"] == "a cat" and result["arguments"]["seed"] == 3
    assert 10 < metrics["psnr"] < 200 and 0 < metrics["ssim"] <= 1
    if difference.max() == 0:  # sparse attention changed nothing visible at 8 bits
        assert metrics["psnr"] > 48
    assert metrics["lpips"] == {"skipped": result["skipped_metrics"]["lpips"]}
    assert "clip_score" in result["skipped_metrics"]
    assert result["layer_calls"]["sparse"] == 4 and result["layer_calls"]["dense"] == 4
    assert result["averages"]["psnr"] == metrics["psnr"]
    assert result["recipe"]["name"] == "sparse3" and result["model"]["name"] == "tiny-flux"


def test_compare_prompt_file_writes_an_html_report(recipe_path, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a comment\na red fox\n\na <blue> whale\n")
    out_dir = tmp_path / "suite"
    assert main(["compare", "tiny-flux", "--recipe", str(recipe_path), "--prompt-file", str(prompts),
                 "--output-dir", str(out_dir), *SMALL]) == 0
    assert "report.html" in capsys.readouterr().out
    result = json.loads((out_dir / "metrics.json").read_text())
    assert [o["prompt"] for o in result["outputs"]] == ["a red fox", "a <blue> whale"]
    psnrs = [o["metrics"]["psnr"] for o in result["outputs"]]
    assert result["averages"]["psnr"] == pytest.approx(sum(psnrs) / 2)
    page = (out_dir / "report.html").read_text()
    assert "a &lt;blue&gt; whale" in page and 'src="prompt_001/side_by_side.png"' in page
    first, second = (numpy.asarray(Image.open(out_dir / f"prompt_00{i}" / "dense.png")) for i in (0, 1))
    assert numpy.abs(first.astype(int) - second.astype(int)).max() > 0  # prompts change the output


def test_compare_json_prompt_file(recipe_path, tmp_path):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(["one"]))
    assert main(["compare", "tiny-flux", "--recipe", str(recipe_path), "--prompt-file", str(prompts),
                 "--output-dir", str(tmp_path / "o"), *SMALL]) == 0
    assert (tmp_path / "o" / "report.html").is_file() and (tmp_path / "o" / "prompt_000" / "dense.png").is_file()


@pytest.mark.parametrize("extra,message", [
    (["--lpips-weights", "/nonexistent/lpips.pt"], "--lpips-weights: '/nonexistent/lpips.pt' is not a file"),
    (["--clip-model", "/nonexistent"], "--clip-model: '/nonexistent' is not a folder"),
    (["--prompt", "x", "--prompt-file", "p.txt"], "give one of them, not both"),
    (["--prompt-file", "/nonexistent.txt"], "--prompt-file: '/nonexistent.txt' is not a file"),
    (["--width", "70"], "--width: 70 is not valid for tiny-flux"),
])
def test_compare_bad_arguments_exit_2(extra, message, capsys):
    assert main(["compare", "tiny-flux", "--recipe", "flux_gna", "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_compare_refuses_random_weights(capsys):
    argv = ["compare", "flux-dev", "--random-weights", "--recipe", "flux_gna", "--no-progress",
            "--config-override", "num_layers=1", "--config-override", "num_single_layers=1",
            "--config-override", "num_attention_heads=2", "--config-override", "attention_head_dim=16",
            "--config-override", "axes_dims_rope=[4,6,6]", *SMALL]
    assert main(argv) == 2
    assert "--random-weights: compare needs pictures" in capsys.readouterr().err


def test_empty_prompt_file_is_a_clear_error(tmp_path, capsys):
    prompts = tmp_path / "empty.txt"
    prompts.write_text("\n# nothing\n")
    assert main(["compare", "tiny-flux", "--recipe", "flux_gna", "--prompt-file", str(prompts)]) == 2
    assert "holds no prompts" in capsys.readouterr().err


def test_main_job_demo_shows_where_the_outputs_went(tmp_path, capsys):
    """README's main job (scripts/demo.sh -> na-accel demo) writes compare-style outputs and lists them."""
    assert main(["demo", "--height", "64", "--width", "64", "--steps", "2", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Outputs in {tmp_path}/" in out and "psnr:" in out and "lpips: skipped" in out
    for name in ("demo.png", "dense.png", "patched.png", "metrics.json"):
        assert (tmp_path / name).is_file() and name in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 < metrics["ssim"] <= 1 and "skipped" in metrics["lpips"]


def test_compare_a_video_preset_writes_frames_and_animations(tmp_path, capsys):
    recipe = tmp_path / "hv.yaml"
    recipe.write_text("model: hunyuan_video\ndefault: {kernel_size: [2, 2, 3]}\n")
    out_dir = tmp_path / "video"
    assert main(["compare", "tiny-hunyuan-video", "--recipe", str(recipe), "--output-dir", str(out_dir),
                 "--height", "48", "--width", "64", "--frames", "9", "--steps", "2", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "48x64x9 frames, token grid 3x3x4" in stdout and "mp4" in stdout
    assert len(list((out_dir / "dense_frames").glob("frame_*.png"))) == 9
    with Image.open(out_dir / "side_by_side.gif") as gif:
        assert gif.n_frames == 9 and gif.size == (3 * 64, 48)
    result = json.loads((out_dir / "metrics.json").read_text())
    assert result["layer_calls"]["sparse"] > 0 and result["model"]["family"] == "hunyuan_video"
    assert 0 < result["averages"]["ssim"] < 1
