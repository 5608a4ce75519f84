"""eval/verify_backend.py and eval/attention_bench.py run from a checkout."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[2] / "eval"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EVAL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def verify_backend():
    return _load("verify_backend")


def test_verify_backend_on_cpu(verify_backend, tmp_path, monkeypatch):
    monkeypatch.setattr(verify_backend, "CASES", [verify_backend.CASES[0], verify_backend.CASES[-2]])
    out = tmp_path / "result.json"
    assert verify_backend.main(["--head-dim", "16", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["dtype"] == "float32" and len(report["cases"]) == 2
    for case in report["cases"]:
        assert case["ok"] and case["backend"] == "flex-fna" and case["max_abs_error"] <= 1e-5
        assert 0 < case["density"] < 1


def test_verify_backend_fails_when_the_backend_is_off(verify_backend, monkeypatch):
    """An error of 1e-3 in the NATTEN path must be caught (exit status 1)."""
    attention = verify_backend.gna_joint_attention

    def skewed(q, k, v, call, *, backend, **options):
        out = attention(q, k, v, call, backend=backend, **options)
        return out if backend == "reference" else out + 1e-3

    monkeypatch.setattr(verify_backend, "CASES", [verify_backend.CASES[0]])
    monkeypatch.setattr(verify_backend, "gna_joint_attention", skewed)
    assert verify_backend.main(["--head-dim", "16"]) == 1


def test_verify_backend_checks_the_triton_kernel(verify_backend, tmp_path, monkeypatch):
    monkeypatch.setattr(verify_backend, "CASES", [verify_backend.CASES[1], verify_backend.CASES[6]])
    out = tmp_path / "triton.json"
    assert verify_backend.main(["--backend", "triton", "--head-dim", "16", "--json", str(out)]) == 0
    cases = json.loads(out.read_text())["cases"]
    assert [case["backend"] for case in cases] == ["triton", "triton"]
    assert all(case["ok"] and case["max_abs_error"] <= 1e-5 for case in cases)


def test_attention_bench_times_gna_against_every_dense_sdpa_backend(tmp_path, capsys):
    attention_bench = _load("attention_bench")
    out = tmp_path / "attention.json"
    argv = ["--case", "custom", "--grid", "9x11", "--window", "4x5", "--stride", "2x2", "--text-len", "5",
            "--heads", "2", "--head-dim", "16", "--dtype", "float32", "--warmup", "1", "--repeats", "2",
            "--json", str(out)]
    assert attention_bench.main(argv) == 0
    report = json.loads(out.read_text())
    (result,) = report["results"]
    # every GNA backend that runs here (the Triton kernel under the interpreter), never the reference
    assert set(result["gna_s"]) == {"triton", "flex-fna"}
    assert all(isinstance(t, float) and t > 0 for t in result["gna_s"].values())
    assert result["fastest_gna"] == min(result["gna_s"], key=result["gna_s"].get)
    timed = {k: v for k, v in result["dense_s"].items() if isinstance(v, float)}
    assert result["best_dense"] == min(timed, key=timed.get)
    for backend, seconds in result["gna_s"].items():
        assert result["speedup_vs_best_dense"][backend] == pytest.approx(timed[result["best_dense"]] / seconds)
    assert result["flop_bound"] == pytest.approx(1 / result["density"]) and result["flop_bound"] > 1
    assert "CPU timings say nothing about GPU speed" in capsys.readouterr().out
    # the published cases are the GNA paper's configurations
    assert attention_bench.CASES["flux-4k"][:3] == ((256, 256), (80, 80), (16, 16))
    assert attention_bench.CASES["hunyuan-video"][:3] == ((30, 48, 80), (18, 24, 24), (16, 8, 8))


@pytest.mark.parametrize("argv, message", [
    (["--case", "custom", "--window", "3x3"], "--case custom needs --grid and --window"),
    (["--case", "custom", "--grid", "8xa", "--window", "3x3"], "--grid: '8xa' is not sizes like 8x10"),
    (["--case", "custom", "--grid", "8x0", "--window", "3x3"], "--grid: '8x0' must be positive sizes"),
])
def test_attention_bench_bad_sizes_say_what_is_allowed(argv, message):
    with pytest.raises(SystemExit, match=message):
        _load("attention_bench").main(argv)


def test_attention_bench_unavailable_backend_exits_2(capsys):
    argv = ["--case", "custom", "--grid", "6x6", "--window", "3x3", "--heads", "1", "--head-dim", "16",
            "--dtype", "float32", "--backend", "hopper-fna"]
    assert _load("attention_bench").main(argv) == 2
    assert "attention_bench: error: " in capsys.readouterr().err


def test_verify_backend_cases_picks_cases_and_names_the_allowed_range(verify_backend, tmp_path, capsys):
    out = tmp_path / "two.json"
    assert verify_backend.main(["--cases", "0,5", "--head-dim", "16", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [case["grid"] for case in report["cases"]] == [[5, 7], [12, 16]]
    assert report["command"].endswith(f"--cases 0,5 --head-dim 16 --json {out}") and report["versions"]["torch"]
    with pytest.raises(SystemExit):
        verify_backend.main(["--cases", "0,8"])
    assert "'0,8': allowed: comma-separated indices 0-7" in capsys.readouterr().err


def test_attention_bench_family_cases_come_from_the_family_spec_and_recipe():
    from na_accel.families.registry import family_spec
    from na_accel.commands.estimate import estimate_recipe

    bench = _load("attention_bench")
    assert set(bench.CASE_GROUPS["all"]) == {*bench.CASES, *bench.FAMILY_CASES}
    for name, (family, height, width, frames) in bench.FAMILY_CASES.items():
        case = bench.family_case(family, height, width, frames, name=name)
        spec = family_spec(family)
        config = spec.shipped_config()["config"]
        estimate = estimate_recipe(spec.recipe, model=family, height=height, width=width, frames=frames,
                                   backend="triton")
        assert case.grid == spec.geometry.token_grid(estimate.height, estimate.width, estimate.frames)
        assert (case.heads, case.head_dim) == (config["num_attention_heads"], config["attention_head_dim"])
        assert case.text_len == (spec.default_text_tokens if spec.text_in_self_attention else 0)
        assert case.window == estimate.rows[0].estimate.window
    wan = bench.family_case(*bench.FAMILY_CASES["wan-480p"])
    assert wan.grid == (21, 30, 52) and wan.text_len == 0  # 480x832 px, 81 frames: VAE 8x/4x, patch 1x2x2
    assert bench.family_case(*bench.FAMILY_CASES["hunyuan-video-720p"]).text_first is False


def test_attention_bench_family_case_runs_and_records_where_it_came_from(tmp_path):
    out = tmp_path / "wan.json"
    argv = ["--case", "family", "--family", "wan", "--height", "256", "--width", "512", "--frames", "9",
            "--heads", "1", "--head-dim", "16", "--dtype", "float32", "--backends", "reference",
            "--dense-backends", "math", "--warmup", "0", "--repeats", "1", "--json", str(out)]
    assert _load("attention_bench").main(argv) == 0
    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert report["dense_backends"] == ["math"] and set(result["dense_s"]) == {"math"}
    assert result["grid"] == [3, 16, 32] and result["text_tokens"] == 0
    assert result["derived_from"]["recipe"] == "wan_gna" and result["derived_from"]["frames"] == 9
    assert result["derived_from"]["overrides"] == {"heads": 1, "head_dim": 16}
    assert result["flop_bound_with_text"] == pytest.approx(result["flop_bound"])  # no text tokens
    assert report["command"] == "python eval/attention_bench.py " + " ".join(argv)


@pytest.mark.parametrize("argv, message", [
    (["--case", "flux-8k"], "--case: 'flux-8k' is not allowed; allowed (comma-separated): published, families"),
    (["--case", "custom,flux-1k"], "custom and family are given alone"),
    (["--case", "family"], "--case family needs --family (allowed: "),
    (["--case", "flux-1k", "--heads", "2"], "--heads: apply to --case custom, family and the families' cases"),
    (["--case", "wan-480p", "--height", "480"], "--height: apply to --case family only"),
    (["--dense-backends", "cudnn,fast"], "--dense-backends: 'fast' is not allowed; allowed (comma-separated): cudnn"),
    (["--case", "custom", "--grid", "6x6", "--window", "3x3", "--repeats", "0"], "--repeats: 0 is not allowed"),
])
def test_attention_bench_bad_cases_say_what_is_allowed(argv, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        _load("attention_bench").main(argv)


def test_attention_bench_bad_family_size_exits_2_naming_the_flag(capsys):
    argv = ["--case", "family", "--family", "wan", "--height", "100", "--heads", "1", "--head-dim", "16"]
    assert _load("attention_bench").main(argv) == 2
    assert "--height: 100 is not valid for wan" in capsys.readouterr().err
