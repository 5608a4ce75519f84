"""na-accel calibrate on the CPU: times, fits and caches a profile the speed gate then uses."""

from __future__ import annotations

import json

import pytest

import na_accel
from na_accel.cli import main
from na_accel.speed import profiles
from na_accel.speed.profiles import find_profile, load_profile
from na_accel.tiny import TINY_PIPELINES


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(profiles.ENV_CACHE, str(tmp_path))
    monkeypatch.delenv(profiles.ENV_PROFILE, raising=False)
    return tmp_path


def test_calibrate_caches_a_profile_the_gate_uses(cache, capsys):
    assert find_profile("cpu", "float32") is None
    code = main(["calibrate", "--device", "cpu", "--backend", "reference", "--quick", "--heads", "2",
                 "--head-dim", "16", "--repeats", "2", "--no-progress"])
    assert code == 0
    path = profiles.cached_profile_path("cpu")
    assert f"wrote {path}" in capsys.readouterr().out
    profile = load_profile(path)
    assert profile.device == "cpu" and profile.dtypes == ("float32",) and "reference" in profile.backends
    samples = json.loads(path.read_text())["samples"]["attention"]
    assert len(samples) == 8 and all(s["dense_s"] > 0 and s["sparse_s"] > 0 for s in samples)
    assert find_profile("cpu", "float32") == profile

    make, call = TINY_PIPELINES["tiny-flux"]
    pipe = make(seed=0)
    na_accel.patch(pipe, {"model": "flux", "default": {"kernel_size": [3, 3]}}, backend="reference")
    pipe(**call(steps=1, output_type="latent"))
    report = na_accel.describe(pipe).transformers[0]
    assert any(str(path) in line for line in report.speed_gate)  # the estimate came from this profile
    assert sum(report.totals.values()) == len(report.layers)
    assert set(report.totals) <= {"sparse"} | {k for k in report.totals if k.startswith("dense: sparse would not pay")}


@pytest.mark.parametrize("argv,message", [
    (["--heads", "0"], "--heads: 0 is not valid; allowed: an integer in [1, 1024]"),
    (["--head-dim", "4096"], "--head-dim: 4096 is not valid; allowed: an integer in [1, 1024]"),
    (["--repeats", "1001"], "--repeats: 1001 is not valid; allowed: an integer in [1, 1000]"),
    (["--call-overhead-us", "-1"], "--call-overhead-us: -1.0 is out of range"),
    (["--dtype", "int8"], "--dtype: 'int8' is not supported"),
    (["--backend", "nope"], "nope"),
])
def test_bad_arguments_name_the_flag(cache, capsys, argv, message):
    assert main(["calibrate", "--device", "cpu", "--quick", "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not profiles.cached_profile_path("cpu").exists()
