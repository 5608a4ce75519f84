"""eval/speed_suite.py and eval/quality_suite.py run from a checkout over the CLI."""

import importlib.util
import json
from pathlib import Path

import pytest

from na_accel.inputs.prompts import SHIPPED_PROMPTS

EVAL = Path(__file__).resolve().parents[2] / "eval"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EVAL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_suite_writes_json_and_markdown(tmp_path, capsys):
    suite = load("speed_suite")
    code = suite.main(["--resolutions", "64x64", "64x96", "--recipes", "flux_gna", "hunyuan_video_gna",
                       "--steps", "1", "--warmup", "0", "--repeats", "1", "--output-dir", str(tmp_path),
                       "--extra", "--no-progress"])
    assert code == 0
    summary = json.loads((tmp_path / "speed_suite.json").read_text())
    assert [row["token_grid"] for row in summary["rows"]] == [[4, 4], [4, 6]]
    assert summary["skipped"] == ["tiny-flux x hunyuan_video_gna: recipe is for 'hunyuan_video', the model is 'flux'"]
    table = (tmp_path / "speed_suite.md").read_text()
    assert table.count("| tiny-flux | 64x") == 2 and "CPU timings say nothing about GPU speed" in table
    assert len(list((tmp_path / "runs").glob("*.json"))) == 2


def test_speed_suite_rejects_a_bad_resolution():
    with pytest.raises(SystemExit, match="not HEIGHTxWIDTH"):
        load("speed_suite").main(["--resolutions", "64by64"])


def test_quality_suite_writes_reports_and_an_index(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\na dog\n")
    suite = load("quality_suite")
    code = suite.main(["--prompt-file", str(prompts), "--height", "64", "--width", "64", "--steps", "1",
                       "--output-dir", str(tmp_path / "out"), "--extra", "--no-progress"])
    assert code == 0
    summary = json.loads((tmp_path / "out" / "quality_suite.json").read_text())
    assert summary["results"]["flux_gna"]["prompts"] == 2
    assert (tmp_path / "out" / "flux_gna" / "report.html").is_file()
    assert 'href="flux_gna/report.html"' in (tmp_path / "out" / "index.html").read_text()
    assert SHIPPED_PROMPTS.read_text().count("\n") >= 6
