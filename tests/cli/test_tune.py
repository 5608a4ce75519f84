"""``na-accel tune``: bad input ends in one line and exit 2 before a model is built or a file is
written; every tiny preset tunes end to end (a recipe of its family that patches a fresh pipeline, and
the measurements next to it); ``--report`` and ``--compare`` write what they say."""

import json
import math
import os
import re
from pathlib import Path

import pytest
from PIL import Image

import na_accel
import na_accel.models.zoo
from na_accel.cli import main
from na_accel.families.registry import FAMILY_SPECS
from na_accel.patching import patches_of
from na_accel.tiny import TINY_PIPELINES
from na_accel.models.zoo import MODELS

# The shipped recipe of each family (the base a tune starts from).
RECIPES = {spec.name: spec.recipe for spec in FAMILY_SPECS}
TINY = [name for name, spec in MODELS.items() if spec.config_file is None]
# Small sizes: images 256x256 (token grid 16x16), videos 128x128 x 9 frames (3x8x8; one latent frame per
# 4 frames for every tiny video VAE); a single-frame preset of a video family: 1x16x16.
IMAGE_SIZE = ["--height", "256", "--width", "256"]
VIDEO_SIZE = ["--height", "128", "--width", "128", "--frames", "9"]
MAX_ERROR = 0.5
# Presets the sizes above don't fit (given after them: the last value wins). MiniMax-H3's pipeline
# makes at least 5 s of video (121 frames: 3 latent frames of the tiny VAE). HunyuanImage's VAE is 32x (256
# pixels: an 8x8 grid no window beats dense on); Helios' history keys outweigh a small chunk, and it
# generates chunk by chunk (its tiny preset: 2 latent frames each; 5 frames is one chunk).
ARGS_BY_PRESET = {
    "tiny-flux-shapes": ["--height", "64", "--width", "64"],  # 4 pixels per token: a 16x16 grid
    "tiny-minimax-h3": ["--height", "256", "--width", "256", "--frames", "121"],
    "tiny-hunyuan-image": ["--height", "512", "--width", "512"],
    "tiny-helios": ["--height", "256", "--width", "256", "--frames", "5"],  # one chunk: 2 latent frames
    "tiny-ltx-video": ["--height", "256", "--width", "512", "--frames", "9"],  # 32x VAE: a 2x8x16 grid
    "tiny-ltx2": ["--height", "256", "--width", "512", "--frames", "9"],
}


def is_video(name: str) -> bool:
    spec = MODELS[name]
    return spec.geometry.is_video and not spec.single_frame


def tune_argv(name: str, output: Path, *extra: str, size: list[str] | None = None) -> list[str]:
    if size is None:
        size = [*(VIDEO_SIZE if is_video(name) else IMAGE_SIZE), *ARGS_BY_PRESET.get(name, [])]
    return ["tune", name, "--recipe", RECIPES[MODELS[name].family], "--steps", "2", *size, "--no-progress",
            "--prompt", "a red fox in the snow", "--max-error", str(MAX_ERROR), "--output", str(output), *extra]


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def no_model(monkeypatch):
    """Building any model fails the test; a name that is no model still gets load_model's own refusal
    (the one place unknown names are refused), which builds nothing."""
    real_load_model = na_accel.models.zoo.load_model
    asked = []

    def refuse(*args, **kwargs):
        raise AssertionError(f"a model was built before the arguments were checked: {args} {kwargs}")

    def guarded(name, **kwargs):
        asked.append(name)
        if name in MODELS:
            refuse(name, **kwargs)
        return real_load_model(name, **kwargs)

    monkeypatch.setattr(na_accel.models.zoo, "load_model", guarded)
    monkeypatch.setattr(na_accel.models.zoo, "load_pretrained", refuse)
    monkeypatch.setattr(na_accel.models.zoo, "build_random_weights", refuse)
    return asked


# ------------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, before anything runs
# ------------------------------------------------------------------------------------------------

def _bad_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    out = str(tmp / "tuned.yaml")
    base = ["tiny-flux", "--recipe", "flux_gna", "--max-error", "0.05"]

    def given(model="tiny-flux", recipe="flux_gna", max_error="0.05"):
        return [model, "--recipe", recipe, "--max-error", max_error, "--output", out]
    return {
        "unknown-model": (given("sdxl", "flux_gna", "0.05"),
                          "model: unknown model 'sdxl'"),
        "close-model-name": (given("tiny-flx", "flux_gna", "0.05"),
                             "model: unknown model 'tiny-flx' (did you mean 'tiny-flux'?)"),
        "max-error-negative": (given("tiny-flux", "flux_gna", "-0.1"),
                               "--max-error: -0.1 is not a relative error; allowed: a number in [0, 1]"),
        "max-error-over-1": (given("tiny-flux", "flux_gna", "1.5"),
                             "--max-error: 1.5 is not a relative error; allowed: a number in [0, 1]"),
        "max-error-nan": (given("tiny-flux", "flux_gna", "nan"),
                          "--max-error: nan is not a relative error; allowed: a number in [0, 1]"),
        "max-error-inf": (given("tiny-flux", "flux_gna", "inf"),
                          "--max-error: inf is not a relative error; allowed: a number in [0, 1]"),
        "recipe-of-another-family": (given("tiny-flux", "wan_gna", "0.05"),
                                     "--recipe: wan_gna is for model family 'wan', but tiny-flux is 'flux'"),
        "output-parent-is-a-file": ([*base, "--output", str(tmp / "blocker" / "tuned.yaml")],
                                    f"--output: {str(tmp / 'blocker')!r} is a file, not a folder"),
        "output-is-a-folder": ([*base, "--output", str(tmp / "folder.yaml")],
                               f"--output: {str(tmp / 'folder.yaml')!r} is a folder"),
        "measurements-path-is-a-folder": ([*base, "--output", str(tmp / "taken.yaml")],
                                          f"--output: {str(tmp / 'taken.tune.json')!r} is a folder"),
        "output-not-yaml": ([*base, "--output", str(tmp / "tuned.json")],
                            f"--output: {str(tmp / 'tuned.json')!r} is not a .yaml file"),
        "prompt-and-prompt-file": ([*base, "--output", out, "--prompt", "a fox", "--prompt-file",
                                    str(tmp / "prompts.txt")],
                                   "--prompt and --prompt-file: give one of them, not both"),
        "random-weights": ([*base, "--output", out, "--random-weights"],
                           "--random-weights: a recipe tuned on random weights says nothing"),
        "random-weights-config": (["flux-dev", "--recipe", "flux_gna", "--max-error", "0.05", "--output", out,
                                   "--random-weights"],
                                  "--random-weights: a recipe tuned on random weights says nothing"),
        "max-query-rows-negative": ([*base, "--output", out, "--max-query-rows", "-1"],
                                    "--max-query-rows: -1 is negative; allowed: 0 (all rows) or more"),
        "compare-prompt-file-without-compare": ([*base, "--output", out, "--compare-prompt-file",
                                                 str(tmp / "prompts.txt")],
                                                "--compare-prompt-file: only with --compare"),
        "report-is-a-folder": ([*base, "--output", out, "--report", str(tmp / "folder.yaml")],
                               f"--report: {str(tmp / 'folder.yaml')!r} is a folder"),
        "compare-dir-is-a-file": ([*base, "--output", out, "--compare", "--compare-dir", str(tmp / "blocker")],
                                  f"--compare-dir: {str(tmp / 'blocker')!r} is a file, not a folder"),
    }


BAD_CASES = list(_bad_cases(Path("/x")))


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_and_exit_2_before_a_model_is_built(case, tmp_path, no_model, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --compare-dir would be made here
    (tmp_path / "blocker").write_text("a file")
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "taken.tune.json").mkdir()
    (tmp_path / "prompts.txt").write_text("a fox\n")
    before = files_under(tmp_path)
    argv, message = _bad_cases(tmp_path)[case]
    assert main(["tune", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("na-accel: error: "), captured.err
    assert message in captured.err
    assert captured.out == ""  # no summary: nothing ran
    assert files_under(tmp_path) == before  # no recipe, no measurements, no compare folder
    assert (tmp_path / "blocker").read_text() == "a file"
    if case in ("unknown-model", "close-model-name"):
        assert no_model == [argv[0]]  # refused by name, nothing built (the fixture refuses any build)
    else:
        assert no_model == []


def test_a_read_only_output_is_refused_before_a_model_is_built(tmp_path, no_model, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files; the read-only check can't be seen as root")
    output = tmp_path / "tuned.yaml"
    output.write_text("mine")
    output.chmod(0o444)
    argv = ["tune", "tiny-flux", "--recipe", "flux_gna", "--max-error", "0.05", "--output", str(output)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--output: cannot write {str(output)!r}: the file is read-only" in err
    assert no_model == [] and output.read_text() == "mine"
    assert files_under(tmp_path) == {"tuned.yaml"}


def test_the_bad_cases_reach_the_checks_they_name(tmp_path, no_model, capsys):
    """A control: the same command line with good values gets past every check to the build (which
    the fixture refuses), so each refusal above is its own check's, not an earlier one's."""
    (tmp_path / "prompts.txt").write_text("a fox\n")
    argv = ["tune", "tiny-flux", "--recipe", "flux_gna", "--max-error", "0.05", "--output",
            str(tmp_path / "tuned.yaml"), "--report", str(tmp_path / "r.html"), "--compare",
            "--compare-dir", str(tmp_path / "cmp"), "--compare-prompt-file", str(tmp_path / "prompts.txt")]
    with pytest.raises(AssertionError, match="a model was built before the arguments were checked"):
        main(argv)
    assert no_model == ["tiny-flux"]
    assert files_under(tmp_path) == {"prompts.txt"}


# ------------------------------------------------------------------------------------------------
# End to end on every tiny preset
# ------------------------------------------------------------------------------------------------

def test_the_tiny_presets_are_the_tiny_pipelines_and_every_family_has_a_base_recipe():
    assert TINY == list(TINY_PIPELINES)
    assert {MODELS[name].family for name in TINY} == set(RECIPES)
    assert {r.name for r in map(na_accel.load_recipe, RECIPES.values())} == set(RECIPES.values())


def _run_tune(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "error" not in captured.err.lower(), captured.err
    return captured.out


@pytest.mark.slow
@pytest.mark.parametrize("name", TINY)
def test_tune_writes_a_recipe_that_patches_a_fresh_pipeline(name, tmp_path, capsys):
    output = tmp_path / "tuned.yaml"
    out = _run_tune(capsys, tune_argv(name, output))
    family = MODELS[name].family

    recipe = na_accel.load_recipe(output)
    assert recipe.model == family
    assert out.splitlines()[0].startswith(f"tuned recipe: {output} [{recipe.hash}] (measurements: ")

    measured = json.loads((tmp_path / "tuned.tune.json").read_text())
    assert measured["recipe_hash"] == recipe.hash and measured["max_error"] == MAX_ERROR
    assert measured["model"]["name"] == name and measured["steps"] == 2
    assert recipe.metadata["tuned_for"]["token_grid"] == measured["token_grid"]
    assert math.prod(measured["token_grid"]) >= 64
    layers = measured["layers"]
    assert isinstance(layers, list) and layers
    names = [layer["name"] for layer in layers]
    assert len(set(names)) == len(names)
    summary = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert [line.split(": ")[0] for line in summary[:len(layers)]] == names  # one summary line per layer
    assert f"of {len(layers)} measured layers sparse" in out
    for layer in layers:
        assert layer["candidates"], f"{layer['name']}: no candidate window on grid {measured['token_grid']}"
        assert len(layer["errors"]) == len(layer["candidates"])
        for row in layer["errors"]:
            assert len(row) == measured["steps"]
            for error in row:
                assert isinstance(error, float) and math.isfinite(error) and 0.0 <= error <= 2.0, layer
        if layer["chosen"] is None:
            assert layer["window"] == "dense"
        else:
            assert 0.0 <= layer["error"] <= MAX_ERROR
            assert layer["window"] == layer["candidates"][layer["chosen"]]["window"]

    pipe = TINY_PIPELINES[name][0](seed=1)
    na_accel.patch(pipe, str(output), backend="reference")
    patches = patches_of(pipe)
    assert patches and all(p.recipe.hash == recipe.hash for p in patches)
    assert set(names) <= {layer for p in patches for layer in p.plans}
    # estimate's view: the tuned recipe on the family's full-size model at the token grid tuned on, also
    # where the tiny VAE compresses space or time otherwise (tiny-flux-shapes: 4 pixels per token, the
    # family's 16; tiny-cosmos: 4 frames per latent frame, the family's 8)
    assert _shown_grid(out) == "x".join(map(str, measured["token_grid"])), out


def _shown_grid(out: str) -> str:
    """The token grid of estimate's view in the summary ("... -> token grid 3x8x8 (192 visual tokens")."""
    shown = re.search(r"-> token grid (\d+(?:x\d+)*) \(", out)
    assert shown, out
    return shown.group(1)


@pytest.mark.slow
def test_a_single_frame_presets_estimate_is_at_the_one_frame_it_was_tuned_on(tmp_path, capsys):
    # An image model of a video family: the estimate at this size is one latent frame, not the family's
    # default frames. 128x128: no candidate window on the 1x8x8 grid, every layer dense (at 256x256 the tune
    # itself fails, see test_tune_writes_a_recipe_that_patches_a_fresh_pipeline[tiny-cosmos2-t2i]).
    output = tmp_path / "tuned.yaml"
    out = _run_tune(capsys, tune_argv("tiny-cosmos2-t2i", output, size=["--height", "128", "--width", "128"]))
    assert json.loads((tmp_path / "tuned.tune.json").read_text())["token_grid"] == [1, 8, 8]
    assert _shown_grid(out) == "1x8x8", out


# ------------------------------------------------------------------------------------------------
# --report and --compare
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_report_writes_an_html_file_naming_every_layer(tmp_path, capsys):
    report = tmp_path / "out.html"
    out = _run_tune(capsys, tune_argv("tiny-flux", tmp_path / "tuned.yaml", "--report", str(report)))
    assert f"report: {report}" in out.splitlines()
    text = report.read_text()
    assert text.lstrip().lower().startswith("<!doctype html") and "</html>" in text
    layers = json.loads((tmp_path / "tuned.tune.json").read_text())["layers"]
    assert len(layers) == 4  # tiny-flux: 2 double and 2 single blocks
    for layer in layers:
        assert layer["name"] in text


@pytest.mark.slow
def test_compare_writes_the_pictures_and_a_summary_line(tmp_path, capsys):
    compare_dir = tmp_path / "cmp"
    out = _run_tune(capsys, tune_argv("tiny-flux", tmp_path / "tuned.yaml", "--compare", "--compare-dir",
                                      str(compare_dir)))
    lines = [line for line in out.splitlines() if line.startswith("compare on")]
    assert len(lines) == 1, out
    match = re.fullmatch(r"compare on 2 held-back prompt\(s\): psnr (\S+), ssim (\S+)", lines[0])
    assert match, lines[0]
    assert float(match.group(1)) > 10 and 0 < float(match.group(2)) <= 1
    compared = json.loads((tmp_path / "tuned.tune.json").read_text())["compare"]  # kept with the measurements
    assert len(compared["prompts"]) == 2 and "a red fox in the snow" not in compared["prompts"]
    assert f"{compared['averages']['psnr']:.4g}" == match.group(1)
    for prompt in ("prompt_000", "prompt_001"):  # the default: 2 shipped prompts not tuned on
        for picture, size in (("dense.png", (256, 256)), ("patched.png", (256, 256)),
                              ("side_by_side.png", None)):
            with Image.open(compare_dir / prompt / picture) as image:
                assert size is None or image.size == size
    assert not (compare_dir / "prompt_002").exists()
