"""na_accel.cli.model_run: bench and compare check every argument before a model is built, then fill
in the model's defaults; the JSON header records the sizes that ran."""

import argparse
from types import SimpleNamespace

import pytest
import torch

import na_accel.models.zoo
from na_accel.cli.arguments import add_model_arguments
from na_accel.cli.model_run import prepare_model_run
from na_accel.errors import NaAccelError


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    parser.add_argument("--batch", type=int, default=1)
    return parser.parse_args(list(argv))


@pytest.fixture
def no_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was built before the arguments were checked")

    monkeypatch.setattr(na_accel.models.zoo, "load_model", refuse)


@pytest.mark.parametrize("extra,message", [
    (["--steps", "0"], r"--steps: 0 is not valid; allowed: an integer in \[1, 1000\]"),
    (["--steps", "1001"], r"--steps: 1001 is not valid; allowed: an integer in \[1, 1000\]"),
    (["--batch", "0"], r"--batch: 0 is not valid; allowed: an integer in \[1, 256\]"),
    (["--batch", "257"], r"--batch: 257 is not valid; allowed: an integer in \[1, 256\]"),
    (["--text-len", "65537"], r"--text-len: 65537 is not valid; allowed: an integer in \[1, 65536\]"),
    (["--frames", "0"], "--frames: 0 is not valid for tiny-flux, an image model; allowed: 1 or none"),
    (["--height", "2048", "--width", "2048"], r"tiny-flux at 2048x2048 pixels \(token grid 128x128, batch 1\) is "
                                              r"16,384 tokens per call; allowed for the tiny presets"),
    (["--height", "1024", "--width", "1024", "--batch", "5"], r"batch x tokens\^2 <= 8192\^2"),
    (["--backend", "cudnn"], "--backend: unknown backend 'cudnn'"),
    (["--recipe", "wan_gna"], "--recipe: wan_gna is for model family 'wan', but tiny-flux is 'flux'"),
    (["--config-override", "num_layers"], "--config-override: 'num_layers' is not KEY=VALUE"),
    (["--dtype", "float64"], "--dtype: 'float64' is not supported"),
    (["--device", "tpu"], "--device: 'tpu'"),
    (["--height", "40"], "--height: 40 is not valid for tiny-flux"),
])
def test_bad_arguments_are_refused_before_the_model_is_built(extra, message, no_model):
    args = parse("tiny-flux", "--recipe", "flux_gna", *extra)
    with pytest.raises(NaAccelError, match=message):
        prepare_model_run(args, lambda: None)


def test_outputs_are_checked_after_the_arguments_and_before_the_model(no_model):
    checked = []

    def check_outputs():
        checked.append(True)
        raise NaAccelError("--json: in the way")

    with pytest.raises(NaAccelError, match="--steps"):
        prepare_model_run(parse("tiny-flux", "--recipe", "flux_gna", "--steps", "0"), check_outputs)
    assert checked == []
    with pytest.raises(NaAccelError, match="--json: in the way"):
        prepare_model_run(parse("tiny-flux", "--recipe", "flux_gna"), check_outputs)
    assert checked == [True]


def fake_model(**kwargs):
    transformer = torch.nn.Linear(2, 2)
    return SimpleNamespace(**{**dict(default_height=96, default_width=128, default_frames=None, default_steps=5,
                                     transformer=transformer, info=lambda: {"name": "fake"}, source="tiny preset",
                                     family="flux", is_video=False, default_sources={}), **kwargs})


def test_the_models_defaults_fill_what_was_not_given_and_the_header_records_them(monkeypatch):
    built = {}

    def load_model(name, **kwargs):
        built.update(name=name, **kwargs)
        return fake_model()

    monkeypatch.setattr(na_accel.models.zoo, "load_model", load_model)
    args = parse("tiny-flux", "--recipe", "flux_gna", "--width", "64", "--seed", "3", "--device", "cpu",
                 "--config-override", "num_layers=1")
    run = prepare_model_run(args, lambda: None)
    assert (run.height, run.width, run.frames, run.steps) == (96, 64, None, 5)
    assert run.recipe.name == "flux_gna"
    assert built == {"name": "tiny-flux", "random_weights": False, "device": "cpu", "dtype": "float32", "seed": 3,
                     "config_overrides": {"num_layers": 1}, "text_len": None}
    header = run.header(args)
    assert header["model"] == {"name": "fake"} and header["device"]["type"] == "cpu"
    assert {k: header["arguments"][k] for k in ("height", "width", "frames", "steps", "seed")} == {
        "height": 96, "width": 64, "frames": None, "steps": 5, "seed": 3}
    assert "command" not in header["arguments"] and set(header["versions"]) >= {"na_accel", "torch"}
    assert header["value_sources"] == {"height": "the tiny preset's default", "width": "flag",
                                       "steps": "the tiny preset's default"}


def test_where_each_value_comes_from_a_flag_the_models_own_default_or_the_family_default():
    from na_accel.cli.model_run import value_sources

    folder = fake_model(source="pretrained", family="wan", default_sources={"height": "the pipeline's default (X)"})
    assert value_sources(parse("f", "--recipe", "wan_gna", "--steps", "2"), folder) == {
        "height": "the pipeline's default (X)", "width": "the wan family default",
        "frames": "the wan family default", "steps": "flag"}
    assert value_sources(parse("f", "--recipe", "wan_gna", "--frames", "9"), fake_model())["frames"] == "flag"


def test_bench_says_what_it_will_run_before_it_runs(tmp_path, capsys, monkeypatch):
    import na_accel.commands.bench
    from na_accel.cli import main

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # main: exit 130 after the line

    monkeypatch.setattr(na_accel.commands.bench, "run_bench", stop)
    assert main(["bench", "tiny-flux", "--recipe", "flux_gna", "--height", "32", "--steps", "1", "--warmup", "0",
                 "--repeats", "1", "--no-progress", "--json", str(tmp_path / "b.json")]) == 130
    assert capsys.readouterr().out.splitlines()[0] == (
        "bench tiny-flux: 32x256 pixels (height: flag; width: the tiny preset's default; --width to change) -> "
        "token grid 2x16, 1 steps (flag); runs: 1 timed, dense and GNA each (2 generations)")
