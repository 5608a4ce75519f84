"""eval/gpu_suite.sh --smoke end to end (CI's proof that the GPU suite runs), and the GPU run's plan."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from na_accel.families.registry import FAMILY_SPECS

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "eval"
SUITE = EVAL / "gpu_suite.sh"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EVAL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One smoke run for the whole module (about a minute on 2 cores)."""
    out = tmp_path_factory.mktemp("gpu-suite")
    result = subprocess.run(["bash", str(SUITE), "--smoke", "--out", str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHON": sys.executable})
    return out, result


@pytest.fixture(scope="module")
def table():
    return load("benchmarks_table")


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def section_rows(text: str, heading: str) -> list[str]:
    part = text.split(heading, 1)[1].split("\n### ", 1)[0]
    return [line for line in part.splitlines() if line.startswith("| ")][1:]  # [0]: the header


@pytest.mark.slow
def test_every_stage_ran_and_wrote_json_that_parses(smoke):
    out, result = smoke
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    suite = read(out / "suite.json")
    assert suite["mode"] == "smoke" and suite["versions"]["torch"] and suite["device"]["type"] == "cpu"
    assert suite["command"] == f"bash eval/gpu_suite.sh --smoke --out {out}"
    assert {name: stage["status"] for name, stage in suite["stages"].items()} == {
        "preflight": "ok", "numerics": "ok", "attention": "ok", "steps": "ok", "profile": "ok", "table": "ok"}
    for stage in ("numerics", "attention", "steps"):
        assert re.search(rf"== \[ *\d+ s\] stage {stage} \(budget \d+ s\)", result.stdout)  # progress per stage
        index = read(out / f"{stage}.json")
        assert index["finished"] and index["items"]
        for item in index["items"]:
            assert item["status"] == "ok", item
            assert isinstance(read(out / item["json"]), dict)
    assert len(read(out / "numerics.json")["items"]) == 3  # bf16, fp16, fp32


def test_the_run_fits_a_cost_profile_the_speed_gate_can_read(smoke):
    from na_accel.speed.profiles import load_profile

    out, _ = smoke
    profile = load_profile(out / "cost-profile.json")  # the speed gate's own parser
    attention = [read(out / item["json"]) for item in read(out / "attention.json")["items"]]
    assert profile.device == attention[0]["device"]["name"] and profile.dtypes == ("float32",)
    assert profile.applies_to("cpu", "float32")  # what the gate looks up on this machine
    data = read(out / "cost-profile.json")
    timed = {record["results"][0]["case"] for record in attention}
    assert {row["case"] for row in data["samples"]["attention"]} == timed  # fit to every timed case
    text = (out / "BENCHMARKS-suite.md").read_text()
    dense = f"{profile.dense.flops_per_s / 1e12:.3g} TFLOP/s"
    assert "### Cost profile" in text and dense in text.split("### Cost profile", 1)[1]


def test_every_family_has_a_step_row_and_an_attention_case(smoke):
    out, _ = smoke
    families = {spec.name for spec in FAMILY_SPECS}
    assert {item["family"] for item in read(out / "steps.json")["items"]} == families
    cases = [read(out / item["json"])["results"][0] for item in read(out / "attention.json")["items"]]
    assert {case["derived_from"]["family"] for case in cases} == families
    for item in read(out / "steps.json")["items"]:
        result = read(out / item["json"])
        assert result["layer_calls"]["sparse"] > 0, item["name"]  # the timed step ran GNA
        assert result["recipe"]["dense_steps"] == 0


def test_the_table_has_a_row_per_json_case_and_every_value_from_the_json(smoke, table):
    out, _ = smoke
    text = (out / table.OUTPUT_NAME).read_text()

    numerics = read(out / "numerics.json")["items"]
    rows = section_rows(text, "### Numerics")
    assert len(rows) == len(numerics)
    for row, item in zip(rows, numerics):
        data = read(out / item["json"])
        worst = max(case["relative_error"] for case in data["cases"])
        assert row.startswith(f"| {data['dtype']} | triton | {len(data['cases'])}/{len(data['cases'])} | "
                              f"{table.sci(worst)} | {table.sci(data['tolerance_relative'])} |")

    attention = read(out / "attention.json")["items"]
    rows = section_rows(text, "### Attention")
    assert len(rows) == len(attention)
    for row, item in zip(rows, attention):
        result = read(out / item["json"])["results"][0]
        best = result["best_dense"]
        for value in (result["case"], f"{table.ms(result['dense_s'][best])} ({best})",
                      table.ms(result["gna_s"]["reference"]), table.ratio(result["flop_bound_with_text"]),
                      table.ratio(result["speedup_vs_best_dense"]["reference"])):
            assert f" {value} " in row or f"**{value}**" in row, (value, row)

    steps = read(out / "steps.json")["items"]
    rows = section_rows(text, "### One transformer step")
    assert len(rows) == len(steps)
    for row, item in zip(rows, steps):
        result = read(out / item["json"])
        runs = result["runs"]
        for value in (table.secs(runs["dense"]["median_s"]), table.secs(runs["patched"]["median_s"]),
                      f"{runs['dense']['attention_layers']} (all)", "x".join(map(str, result["token_grid"]))):
            assert f" {value} " in row, (value, row)
    assert "CPU smoke run" in text and read(out / "suite.json")["versions"]["torch"] in text


def test_update_replaces_only_the_generated_section(smoke, table, tmp_path):
    out, _ = smoke
    section = (out / table.OUTPUT_NAME).read_text()
    real = (ROOT / "BENCHMARKS.md").read_text()
    before = real.split(table.BEGIN, 1)[0]  # the hand-written part above the generated section
    copy = tmp_path / "BENCHMARKS.md"

    copy.write_text(before)
    table.main([str(out), "--update", str(copy)])  # no markers yet: appended
    assert copy.read_text() == before.rstrip("\n") + "\n\n" + section

    copy.write_text(f"{before}{table.BEGIN}\nstale\n{table.END}\n\n## Kept after\n")
    table.main([str(out), "--update", str(copy)])  # markers: replaced, nothing else touched
    assert copy.read_text() == before + section + "\n## Kept after\n"


# --------------------------------------------------------------------------------------------
# The GPU run's plan, checked without a GPU
# --------------------------------------------------------------------------------------------


def gpu_budgets() -> dict[str, int]:
    declared = re.search(r"declare -A GPU_BUDGET=\(([^)]*)\)", SUITE.read_text()).group(1)
    return {name: int(seconds) for name, seconds in re.findall(r"\[(\w+)\]=(\d+)", declared)}


def test_the_gpu_plan_fits_its_budgets_in_under_8_minutes():
    suite = load("gpu_suite")
    budgets = gpu_budgets()
    assert sum(budgets.values()) < 8 * 60 - 20  # 20 s: Python's start in each stage process
    startup = 15  # a stage process importing torch, diffusers and na_accel on a GPU machine
    assert len(suite.DTYPES) * suite.NUMERICS_DTYPE_S + startup <= budgets["numerics"] - suite.MARGIN_S
    bench = load("attention_bench")
    cases = suite._gpu_attention_cases(bench)
    assert sorted(name for name, _, _ in cases) == sorted(bench.CASE_GROUPS["all"])  # every case, once
    assert sum(suite.attention_estimate_s(case) for _, _, case in cases) + startup \
        <= budgets["attention"] - suite.MARGIN_S
    assert sum(row.estimate_s for row in suite.GPU_STEP_ROWS) + startup <= budgets["steps"] - suite.MARGIN_S


def test_every_gpu_step_command_passes_the_bench_checks(tmp_path, monkeypatch):
    """Each planned `na-accel bench` command through the CLI's own checks (sizes, recipe, overrides),
    with the model build replaced: the plan can't fail on an argument once on the GPU."""
    import torch

    import na_accel.inputs.devices
    import na_accel.models.zoo
    from na_accel.cli.main import build_parser
    from na_accel.cli.model_run import prepare_model_run
    from na_accel.recipe import load_recipe
    from na_accel.models.zoo import shipped_config

    suite = load("gpu_suite")
    built = []
    monkeypatch.setattr(na_accel.models.zoo, "load_model", lambda name, **kw: built.append((name, kw)) or _Fake())
    monkeypatch.setattr(na_accel.inputs.devices, "parse_device", torch.device)  # no GPU here
    families = set()
    for row in (*suite.GPU_STEP_ROWS, *suite.NEW_FAMILY_STEP_ROWS):
        entry, argv = suite.step_item(row, tmp_path, smoke=False)
        args = build_parser().parse_args(argv)
        assert args.random_weights and args.device == "cuda" and args.dtype == "bfloat16" and args.steps == 1
        run = prepare_model_run(args, lambda: None)
        assert run.recipe.dense_step_count(1) == 0  # the timed step runs sparse
        assert load_recipe(args.recipe).model == row.family
        overrides = built[-1][1]["config_overrides"]
        config = shipped_config(args.model)["config"]
        assert set(overrides) <= set(config) and entry["layers"]["overrides"] == overrides
        assert 0 < entry["layers"]["attention_layers"] <= entry["layers"]["attention_layers_full"]
        families.add(row.family)
    # every family the synthetic loop drives (the others' specs say why it can't)
    assert families == {spec.name for spec in FAMILY_SPECS if spec.synthetic_loop_problem is None}


class _Fake:  # a LoadedModel of random weights, as far as prepare_model_run reads one
    source = "random weights"
    family = "flux"
    default_height = default_width = 1024
    default_frames = None
    default_steps = 1
    default_sources: dict = {}


def test_layer_cuts_keep_the_share_of_every_block_stack():
    suite = load("gpu_suite")
    assert suite.layer_plan("hunyuan_video", 0.2) == {  # double- and single-stream blocks, not the text refiner
        "overrides": {"num_layers": 4, "num_single_layers": 8}, "attention_layers": 12,
        "attention_layers_full": 60, "share": 0.2}
    assert suite.layer_plan("flux", 1.0)["overrides"] == {}


def test_bad_suite_arguments_name_the_flag_and_what_is_allowed(tmp_path):
    for argv, message in ((["--stages", "numerics,speed"], "--stages: 'speed' is not a stage; allowed: preflight,"),
                          (["--budget-scale", "-1"], "--budget-scale: '-1' is not allowed; allowed: a number > 0"),
                          (["--fast"], "unknown argument '--fast'; allowed: --out, --smoke")):
        result = subprocess.run(["bash", str(SUITE), *argv, "--out", str(tmp_path / "x")], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 2 and message in result.stderr, result.stderr
