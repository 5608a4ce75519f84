"""na-accel compare: dense vs patched pictures, metrics JSON, HTML report for a prompt file."""

import base64
import io
import json
import re
import shutil

import numpy
import pytest
from PIL import Image

from na_accel.cli import main
from na_accel.outputs.report import LABEL_STRIP_H, SCALE_STRIP_H

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
        assert image.size == (3 * 80, LABEL_STRIP_H + 64 + SCALE_STRIP_H)  # the heat map's colour bar under it
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


@pytest.mark.slow
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
    assert "a &lt;blue&gt; whale" in page
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
    (["--prompt-file", "/nonexistent.txt"], "--prompt-file: cannot read '/nonexistent.txt': No such file or directory"),
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
    """README's main job (scripts/demo.sh -> na-accel demo) writes what compare writes and lists it."""
    assert main(["demo", "--height", "64", "--width", "64", "--steps", "2", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Outputs in {tmp_path}/" in out and "psnr:" in out and "lpips: skipped" in out
    for name in ("side_by_side.png", "dense.png", "patched.png", "metrics.json"):
        assert (tmp_path / name).is_file() and name in out
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["command"] == "demo" and result["outputs"][0]["prompt"] == "a blue square at the bottom right"
    assert 0 < result["averages"]["ssim"] <= 1 and "skipped" in result["averages"]["lpips"]
    assert result["layer_calls"]["sparse"] == 16  # 4 layers x 2 steps x 2 calls (true CFG)


@pytest.mark.slow
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


def _compare(recipe, out_dir, *extra):
    return main(["compare", "tiny-flux", "--recipe", str(recipe), "--output-dir", str(out_dir), *SMALL, *extra])


def test_compare_names_a_recipe_file_by_its_own_name_key(tmp_path, capsys):
    """A tuned recipe file (flux_tuned.yaml, ``name: flux_gna_tuned``) is flux_gna_tuned in the printed
    summary, metrics.json and report.html alike, never its file stem."""
    recipe = tmp_path / "flux_tuned.yaml"
    recipe.write_text("name: flux_gna_tuned\n" + SPARSE_RECIPE)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\n")
    out_dir = tmp_path / "o"
    assert main(["compare", "tiny-flux", "--recipe", str(recipe), "--prompt-file", str(prompts),
                 "--output-dir", str(out_dir), "--height", "32", "--width", "32", "--steps", "1",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "recipe flux_gna_tuned [" in out and "flux_tuned" not in out.replace(str(recipe), "")
    assert json.loads((out_dir / "metrics.json").read_text())["recipe"]["name"] == "flux_gna_tuned"
    page = (out_dir / "report.html").read_text()
    assert "flux_gna_tuned" in page and "flux_tuned " not in page


def test_compare_checks_its_output_dir_before_building_the_model(tmp_path, capsys, monkeypatch):
    import na_accel.models.zoo

    def no_model(*args, **kwargs):
        raise AssertionError("the model was built before the output dir was checked")

    monkeypatch.setattr(na_accel.models.zoo, "load_model", no_model)
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    assert _compare("flux_gna", blocker) == 2
    assert f"--output-dir: {str(blocker)!r} is a file, not a folder" in capsys.readouterr().err
    assert _compare("flux_gna", "/sys/na_accel_test") == 2
    assert "--output-dir: cannot write '/sys/na_accel_test'" in capsys.readouterr().err


def test_compare_explains_an_infinite_psnr_when_nothing_ran_sparse(tmp_path, capsys):
    """flux_gna's 80x80 window covers the tiny 4x5 token grid: every call runs dense, outputs are equal."""
    assert _compare("flux_gna", tmp_path / "o", "--prompt", "a cat") == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["layer_calls"]["sparse"] == 0
    psnr = result["averages"]["psnr"]
    assert psnr == "inf" or psnr > 100  # dense attention both times: equal up to rounding
    assert "NOTE: no attention call ran sparse" in out and "numerical noise" in out
    assert "no attention call ran sparse" in result["note"]


def test_compare_sparse_run_has_no_note_and_a_readable_backend_line(recipe_path, tmp_path, capsys):
    assert _compare(recipe_path, tmp_path / "o", "--prompt", "a cat") == 0
    out = capsys.readouterr().out
    backend_line = next(line for line in out.splitlines() if "backend used" in line)
    assert "{" not in backend_line and "'" not in backend_line
    assert "backend used: transformer: flex-fna (cpu float32)" in backend_line
    assert "NOTE" not in out
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["note"] is None


@pytest.fixture(scope="module")
def two_prompt_run(recipe_path, tmp_path_factory):
    """One compare run of a two-prompt file: (output folder, what it printed). Read-only for the tests."""
    from contextlib import redirect_stdout

    root = tmp_path_factory.mktemp("two_prompts")
    prompts = root / "prompts.txt"
    prompts.write_text("a red fox\na blue whale\n")
    out = io.StringIO()
    with redirect_stdout(out):
        assert _compare(recipe_path, root / "o", "--prompt-file", str(prompts)) == 0
    return root / "o", out.getvalue()


def test_compare_lists_every_prompt_and_its_folder(two_prompt_run):
    listing = two_prompt_run[1].split("Outputs in")[1].splitlines()
    for index, prompt in enumerate(["a red fox", "a blue whale"]):
        line = next(line for line in listing if f"prompt_{index:03d}/" in line)
        assert repr(prompt) in line and "dense.png, patched.png, side_by_side.png" in line
    assert any("report.html" in line for line in listing)


def _data_uri_bytes(uri):
    header, _, payload = uri.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64")
    return base64.b64decode(payload)


def test_the_html_report_is_self_contained(two_prompt_run, tmp_path):
    out_dir = two_prompt_run[0]
    shutil.copy(out_dir / "report.html", tmp_path / "report.html")  # the page alone, nothing next to it
    page = (tmp_path / "report.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(references) == 2
    assert all(reference.startswith("data:") for reference in references)
    for index, reference in enumerate(references):
        with Image.open(io.BytesIO(_data_uri_bytes(reference))) as embedded, \
                Image.open(out_dir / f"prompt_{index:03d}" / "side_by_side.png") as on_disk:
            assert numpy.array_equal(numpy.asarray(embedded), numpy.asarray(on_disk))


def test_a_new_compare_run_replaces_the_previous_one_and_leaves_other_files(two_prompt_run, recipe_path,
                                                                             tmp_path, capsys):
    out_dir = tmp_path / "o"
    shutil.copytree(two_prompt_run[0], out_dir)  # the earlier run's folder, record included
    (out_dir / "my_notes.txt").write_text("keep me")
    assert (out_dir / "report.html").is_file() and (out_dir / "prompt_001").is_dir()
    assert _compare(recipe_path, out_dir, "--prompt", "a cat") == 0
    out = capsys.readouterr().out
    assert "replaced the previous run's 8 files" in out  # 2 x 3 pictures, metrics.json, report.html
    assert not (out_dir / "report.html").exists() and not (out_dir / "prompt_000").exists()
    assert not (out_dir / "prompt_001").exists()
    assert sorted(p.name for p in out_dir.iterdir() if not p.name.startswith(".")) == [
        "dense.png", "metrics.json", "my_notes.txt", "patched.png", "side_by_side.png"]
    assert json.loads((out_dir / "metrics.json").read_text())["outputs"][0]["prompt"] == "a cat"


@pytest.mark.slow
def test_a_demo_after_a_compare_in_the_same_folder_removes_the_compare_run(recipe_path, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\n")
    out_dir = tmp_path / "o"
    assert _compare(recipe_path, out_dir, "--prompt-file", str(prompts)) == 0
    assert main(["demo", "--height", "32", "--width", "32", "--steps", "1", "--output-dir", str(out_dir)]) == 0
    assert not (out_dir / "report.html").exists() and not (out_dir / "prompt_000").exists()
    assert sorted(p.name for p in out_dir.iterdir() if not p.name.startswith(".")) == [
        "dense.png", "metrics.json", "patched.png", "side_by_side.png"]


def test_compare_cosmos2_text_to_image_preset(tmp_path, capsys):
    recipe = tmp_path / "cosmos.yaml"
    recipe.write_text("model: cosmos\ndefault: {kernel_size: [2, 2, 3]}\n")
    assert main(["compare", "tiny-cosmos2-t2i", "--recipe", str(recipe), "--output-dir", str(tmp_path / "o"),
                 "--height", "48", "--width", "80", "--steps", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "48x80, token grid 1x3x5" in out and "frames" not in out.split("token grid")[0]
    with Image.open(tmp_path / "o" / "side_by_side.png") as image:
        assert image.size == (3 * 80, LABEL_STRIP_H + 48 + SCALE_STRIP_H)
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["token_grid"] == [1, 3, 5] and result["layer_calls"]["sparse"] > 0
