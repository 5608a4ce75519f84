"""The GPU run in one command (eval/gpu_prepare.sh, then eval/gpu_run.sh) proved on the CPU.

CI has no GPU: gpu_run.sh runs as its SMOKE=1 dry run (Triton's interpreter, tiny sizes, the suite
limited to its numerics stage), after gpu_prepare.sh --offline exported the 2026-11-23 baseline the
A/B calls. What comes back must be what the device tool can return and what the report needs.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "eval"
BASELINE = "ab-2026-11-23"
RETURNED = {"run.log", "env.txt", "gpu-checks.json", "ab.json", "suite.tgz", "run.json"}


def load(name):
    spec = importlib.util.spec_from_file_location(name, EVAL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def run(argv, timeout, **env):
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHON": sys.executable, **env})


def prepare(dest: Path, *extra: str):
    result = run(["bash", str(EVAL / "gpu_prepare.sh"), "--offline", "--dest", str(dest), *extra], timeout=120)
    if "is not in this clone" in result.stderr:
        pytest.skip("commit 41aea4a (the A/B baseline) is not in this clone")
    return result


def read(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_prepare_exports_the_baseline_checks_its_api_and_prints_the_sizes(tmp_path):
    result = prepare(tmp_path / "whl")
    assert result.returncode == 0, result.stdout + result.stderr
    baseline = tmp_path / "whl" / BASELINE
    assert (baseline / "na_accel" / "attention.py").is_file()  # the 2026-11-23 entry point
    assert not (baseline / "na_accel" / "kernels" / "joint.py").exists()  # today's is not there
    assert (baseline / "SOURCE").read_text().startswith("git 41aea4a")
    assert "na_accel.attention.gna_joint_attention(backend='triton') ok" in result.stdout
    sizes = re.search(r"tree \(tracked \+ untracked not ignored\): ([\d.]+) MiB; tree \+ whl: ([\d.]+) MiB of 48 MiB",
                      result.stdout)
    assert sizes and 0 < float(sizes[1]) <= float(sizes[2]) < 48, result.stdout

    too_small = prepare(tmp_path / "whl", "--limit-mib", "1")  # the same tree, a limit it passes
    assert too_small.returncode == 1
    assert re.search(r"tree \+ .*whl is [\d.]+ MiB, over the 1 MiB limit", too_small.stderr), too_small.stderr


def test_bad_arguments_name_the_value_and_what_is_allowed(tmp_path):
    for argv, message in (
        ([str(EVAL / "gpu_prepare.sh"), "--fast"], "unknown argument '--fast'; allowed: --offline, --dest DIR"),
        ([str(EVAL / "gpu_prepare.sh"), "--limit-mib", "0"], "--limit-mib: '0' is not allowed; allowed: a whole"),
    ):
        result = run(["bash", *argv], timeout=30)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    for argv, message in (
        (["gpu_checks.py", "--cases", "fp16,fp8"], "fp8: not a case; allowed: big-tiles-2d,"),
        (["ab_bench.py", "--json", "x.json", "--cases", "flux-8k"], "flux-8k: not a case; allowed: flux-4k,"),
        (["ab_bench.py", "--cases", "flux-4k"], "--json is required"),
        (["ab_bench.py", "--json", "x.json", "--rounds", "0"], "'0': allowed: a whole number >= 1"),
    ):
        result = run([sys.executable, str(EVAL / argv[0]), *argv[1:]], timeout=30)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_without_a_gpu_the_checks_say_to_use_smoke():
    result = run([sys.executable, str(EVAL / "gpu_checks.py"), "--cases", "fp16"], timeout=60, CUDA_VISIBLE_DEVICES="")
    assert result.returncode == 2 and "no CUDA device visible; on a CPU run --smoke" in result.stderr


def test_the_gpu_plan_leaves_the_suite_its_minimum_in_590_seconds():
    text = (EVAL / "gpu_run.sh").read_text()
    number = {name: int(re.search(rf"^{name}=(\d+)", text, re.M)[1])
              for name in ("GPU_CHECKS_S", "GPU_AB_S", "PACK_S", "SUITE_OVERHEAD_S", "SUITE_MIN_S")}
    total = int(re.search(r'^TOTAL_S="\$\{TOTAL_S:-(\d+)\}"', text, re.M)[1])
    startup = 40  # the wheel install and env.txt (Python, CUDA and diffusers imports) on the GPU machine
    assert startup + sum(number.values()) <= total <= 590  # checks and A/B at their caps: the suite still runs
    assert 'run(command="bash eval/gpu_run.sh", carry=[".whl"], timeout_s=600)' in text


@pytest.mark.slow
def test_smoke_run_returns_at_most_6_files_that_hold_what_the_report_needs(tmp_path):
    whl = tmp_path / "whl"  # the baseline as gpu_prepare.sh exports it (its own test runs it; no wheels here)
    (whl / BASELINE).mkdir(parents=True)
    if subprocess.run(["git", "rev-parse", "-q", "--verify", "41aea4a^{commit}"], cwd=ROOT).returncode:
        pytest.skip("commit 41aea4a (the A/B baseline) is not in this clone")
    subprocess.run(f"git archive 41aea4a na_accel | tar -x -C {whl / BASELINE}", shell=True, cwd=ROOT, check=True)
    (whl / BASELINE / "SOURCE").write_text("git 41aea4a (2026-11-23)\n")
    out, work = tmp_path / "out", tmp_path / "work"
    result = run(["bash", str(EVAL / "gpu_run.sh")], timeout=400, SMOKE="1", OUT=str(out), WORK=str(work),
                 WHL=str(whl), SUITE_STAGES="numerics")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    # what the device tool returns: <= 8 files (this run: 6), 16 MiB each, 2 folders down at most
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} == RETURNED and len(files) <= 6
    assert all(p.stat().st_size < 16 * 2**20 and len(p.relative_to(out).parts) <= 3 for p in files)
    log = (out / "run.log").read_text()
    assert log == result.stdout  # the whole output, tee'd by the script itself
    for step in ("checks", "ab", "suite"):
        assert re.search(rf"=== \[ *\d+ s\] {step}: ok in \d+ s", log), step

    steps = read(out / "run.json")
    assert steps["mode"] == "smoke" and steps["failed"] == []
    assert {name: s["status"] for name, s in steps["steps"].items()} == {
        "install": "skipped", "checks": "ok", "ab": "ok", "suite": "ok"}

    env = (out / "env.txt").read_text()
    assert "baseline: git 41aea4a" in env and '"kernel_sha256"' in env and "imports ok: natten" in env

    checks = read(out / "gpu-checks.json")
    assert checks["finished"] and checks["mode"] == "smoke" and checks["autotune"] is False
    assert checks["device"]["type"] == "cpu" and checks["versions"]["torch"]
    assert list(checks["cases"]) == load("gpu_checks").CASE_NAMES  # every case, in order
    for name, case in checks["cases"].items():
        assert case["ok"], (name, case)
        if case["check"] in ("reference", "poisoned", "sampled"):
            assert case["rel_max"] <= case["tolerance"]["rel_max"] and case["finite"]
    assert checks["cases"]["repeat"]["bit_equal"]
    assert checks["cases"]["padded-text"]["valid_text"] == [16, 1, 0]
    assert checks["cases"]["offsets-64"]["forced_64bit_path"]  # the 64-bit path ran, small as it is

    ab = read(out / "ab.json")
    assert ab["finished"] and ab["mode"] == "smoke" and ab["errors"] == [] and ab["device"]["type"] == "cpu"
    variants = ab["variants"]
    assert variants["current"]["api"] == "na_accel.kernels.joint:gna_joint_attention"
    assert variants["2026-11-23"]["api"] == "na_accel.attention:gna_joint_attention"
    assert variants["2026-11-23"]["source"].startswith("git 41aea4a")
    baseline_process = variants["2026-11-23"]["processes"][0]
    assert baseline_process["exit_code"] == 0
    assert baseline_process["machine"]["na_accel"] == str(whl / BASELINE / "na_accel")  # its own package
    assert variants["current"]["processes"][0]["machine"]["na_accel"] == str(ROOT / "na_accel")
    case = ab["cases"]["tiny"]
    assert set(case["variants"]) == {"current", "2026-11-23"}
    for timing in case["variants"].values():
        assert timing["ms"] > 0 and timing["dense_ms"] > 0 and timing["speedup_vs_dense"] > 0
    comparison = case["current_vs_2026-11-23"]
    assert comparison["same_inputs"] and comparison["speedup_current_over_baseline"] > 0
    assert comparison["outputs_sampled"]["max_abs"] < 0.05  # the same attention, two kernels

    with tarfile.open(out / "suite.tgz") as archive:
        suite = json.load(archive.extractfile("suite/suite.json"))
    assert suite["mode"] == "smoke"
    assert {name: stage["status"] for name, stage in suite["stages"].items()} == {"preflight": "ok", "numerics": "ok"}
