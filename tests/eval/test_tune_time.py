"""eval/tune_time.py: times a tune against dense runs of the same generations (on a tiny preset here:
the numbers mean nothing on a CPU, the JSON and its fields are what is checked), and the GPU commands
BENCHMARKS.md gives for it pass its parser and name real models and layer-count keys."""

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load():
    spec = importlib.util.spec_from_file_location("tune_time", ROOT / "eval" / "tune_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_writes_its_timings_with_device_and_versions(tmp_path):
    out = tmp_path / "tune.json"
    argv = ["tiny-flux", "--recipe", "flux_gna", "--height", "256", "--width", "256", "--steps", "2",
            "--json", str(out)]
    assert load().main(argv) == 0
    result = json.loads(out.read_text())
    assert result["command"] == "python eval/tune_time.py " + shlex.join(argv)
    assert result["device"]["type"] == "cpu" and result["versions"]["torch"]
    assert result["measured_layers"] == 4 and result["size"]["token_grid"] == [16, 16]
    assert 0 < result["dense_s"] and 0 < result["tune_s"]
    assert result["tune_over_dense"] == pytest.approx(result["tune_s"] / result["dense_s"])


def benchmark_commands():
    text = (ROOT / "BENCHMARKS.md").read_text().replace("\\\n", " ")
    return [shlex.split(line)[2:] for line in text.splitlines() if line.startswith("python eval/tune_time.py")]


@pytest.mark.parametrize("argv", benchmark_commands(), ids=lambda argv: argv[0])
def test_the_documented_gpu_commands_are_valid(argv, monkeypatch):
    from na_accel.families.registry import family_spec
    from na_accel.models import zoo

    seen = {}

    def stop(name, **kwargs):
        seen.update(name=name, **kwargs)
        raise LookupError("stopped before building")

    monkeypatch.setattr(zoo, "load_model", stop)
    with pytest.raises(LookupError, match="stopped"):
        load().main(argv)
    spec = zoo.MODELS[seen["name"]]  # a real model name
    config = family_spec(spec.family).shipped_config()["config"]
    assert seen["random_weights"] and set(seen["config_overrides"]) <= set(config)
    assert all(re.fullmatch(r"num_\w*layers", key) for key in seen["config_overrides"])
