"""eval/benchmarks_table.py on a small hand-made suite folder: cells come from JSON, gaps say why."""

import importlib.util
import json
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[2] / "eval"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EVAL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def table():
    return load("benchmarks_table")


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def index(stage, *items):
    return {"stage": stage, "mode": "gpu", "budget_s": 100, "items": list(items)}


def entry(name, status, json_path=None, reason=None, **extra):
    return {"name": name, "status": status, "reason": reason, "command": f"tool {name}", "json": json_path, **extra}


ATTENTION = {
    "case": "flux-4k", "grid": [256, 256], "text_tokens": 512, "heads": 24, "head_dim": 128,
    "window": "grid 256x256, window 80x80 stride 16x16", "kernel_size": [80, 80], "stride": [16, 16],
    "density": 0.09765625, "flop_bound": 10.24, "flop_bound_with_text": 8.96, "derived_from": None,
    "gna_s": {"triton": 0.01355}, "gna_peak_memory_bytes": {"triton": 2070000000}, "fastest_gna": "triton",
    "dense_s": {"cudnn": 0.0833, "flash": 0.1549}, "best_dense": "cudnn", "speedup_vs_best_dense": {"triton": 6.1476},
}


def bench(model, dense_s, patched_s, speedup, memory):
    def run(seconds, peak):
        return {"median_s": seconds, "attention_layers": 12, "peak_memory_bytes": peak}

    return {
        "model": {"name": model, "config_overrides": {"num_layers": 4, "num_single_layers": 8}},
        "arguments": {"height": 720, "width": 1280, "frames": 129}, "token_grid": [33, 45, 80],
        "recipe": {"name": "hunyuan_video_gna_all_sparse"}, "runs": {"dense": run(dense_s, memory[0]),
                                                                      "patched": run(patched_s, memory[1])},
        "speedup": speedup, "speedup_note": None, "backend": {"resolved": ["triton"]},
    }


@pytest.fixture
def folder(tmp_path):
    write(tmp_path / "suite.json", {
        "mode": "gpu", "started": "2026-12-01T10:00:00+00:00", "command": "bash eval/gpu_suite.sh",
        "device": {"type": "cuda", "name": "NVIDIA H200", "memory_bytes": 150_000_000_000, "driver": "580.1"},
        "versions": {"torch": "2.11.0+cu130", "triton": "3.6.0", "natten": "0.21.7", "na_accel": "0.1.0",
                     "diffusers": None, "cuda": "13.0", "python": "3.12.3"},
        "stages": {"numerics": {"status": "ok", "seconds": 50, "budget_s": 90},
                   "attention": {"status": "timed out", "seconds": 140, "budget_s": 140},
                   "steps": {"status": "failed", "seconds": 3, "budget_s": 180}},
    })
    write(tmp_path / "numerics.json", index(
        "numerics",
        entry("bfloat16", "ok", "numerics/bf16.json", dtype="bfloat16", backend="triton"),
        entry("float16", "skipped", "numerics/fp16.json", reason="not started: 3 s of the stage's 90 s budget left",
              dtype="float16", backend="triton"),
    ))
    write(tmp_path / "numerics" / "bf16.json", {"dtype": "bfloat16", "tolerance_relative": 0.02, "cases": [
        {"backend": "triton", "relative_error": 0.0032, "max_abs_error": 0.0039, "ok": True},
        {"backend": "triton", "relative_error": 0.0011, "max_abs_error": 0.0051, "ok": True},
    ]})
    write(tmp_path / "attention.json", index(
        "attention",
        entry("flux-4k", "ok", "attention/flux-4k.json"),
        entry("wan-720p", "running", "attention/wan-720p.json"),
        entry("cosmos", "pending", "attention/cosmos.json"),
    ))
    write(tmp_path / "attention" / "flux-4k.json", {"dtype": "bfloat16", "warmup": 2, "repeats": 5,
                                                     "dense_backends": ["cudnn", "flash"], "results": [ATTENTION]})
    write(tmp_path / "steps.json", index(
        "steps",
        entry("hunyuan-video", "ok", "steps/hv.json", model="hunyuan-video", size="720x1280x129",
              layers={"attention_layers": 12, "attention_layers_full": 60}, recipe_note="copy with dense_steps 0"),
        entry("wan-14b", "failed", "steps/wan.json", reason="ModuleNotFoundError: No module named 'diffusers'",
              model="wan-14b", size="480x832x81", recipe="wan_gna_all_sparse",
              layers={"attention_layers": 40, "attention_layers_full": 40}),
    ))
    write(tmp_path / "steps" / "hv.json", bench("hunyuan-video", 6.12, 1.53, 4.0, (8_100_000_000, 8_200_000_000)))
    return tmp_path


def rows(section: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under ``heading``."""
    part = section.split(heading, 1)[1].split("\n### ", 1)[0]
    lines = [line for line in part.splitlines() if line.startswith("| ")][1:]  # [0] is the header
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]


def test_every_cell_comes_from_the_json(table, folder):
    text = table.render(folder)
    assert text.startswith(table.BEGIN) and text.rstrip().endswith(table.END)
    assert "NVIDIA H200" in text and "triton 3.6.0" in text and "diffusers not installed" in text
    assert "timed out" in text  # the stage table

    (bf16, fp16) = rows(text, "### Numerics")
    assert bf16[:6] == ["bfloat16", "triton", "2/2", table.sci(0.0032), table.sci(0.02), table.sci(0.0051)]
    assert bf16[6] == "all within tolerance"
    assert fp16[2:6] == ["not run"] * 4 and "not run: not started: 3 s of the stage's 90 s budget left" in fp16[6]

    flux, wan, cosmos = rows(text, "### Attention")
    assert flux[:8] == ["flux-4k", "256x256 + 512", "80x80 / 16x16", "24 x 128", f"{table.ms(0.0833)} (cudnn)",
                        table.ms(0.01355), f"**{table.ratio(6.1476)}** (triton)", table.ratio(10.24)]
    assert flux[8:10] == [table.ratio(8.96), table.gb(2070000000)]
    assert wan[1] == "not run"
    assert wan[-1] == "not finished: the stage was stopped while this ran (stage attention timed out)"
    assert cosmos[1] == "not run" and "not run: the stage ended before this item" in cosmos[-1]

    hunyuan, wan_step = rows(text, "### One transformer step")
    assert hunyuan[:7] == ["hunyuan-video 720x1280x129", "33x45x80", "`hunyuan_video_gna_all_sparse`",
                           "12 of 60 (num_layers=4, num_single_layers=8)", table.secs(6.12), table.secs(1.53),
                           f"**{table.ratio(4.0)}**"]
    assert hunyuan[7] == f"{table.gb(8_100_000_000)} / {table.gb(8_200_000_000)}"
    assert wan_step[1] == "not run" and wan_step[3] == "40 of 40 planned"
    assert wan_step[-1] == "failed: ModuleNotFoundError: No module named 'diffusers'"
    assert "`tool wan-14b`" in text  # the commands section


def test_a_stage_without_its_index_reads_not_run_with_why(table, folder):
    (folder / "steps.json").unlink()
    skipped = {"status": "skipped", "seconds": 0, "budget_s": 180, "reason": "preflight failed"}
    (folder / "suite.json").write_text(json.dumps({"stages": {"steps": skipped}}))
    text = table.render(folder)
    assert "not run: no steps.json (stage steps skipped: preflight failed)." in text
    assert "**Device and versions** (date not recorded): no device name recorded" in text


def test_update_replaces_the_marked_section_or_appends_it(table, folder, tmp_path):
    section = table.render(folder)
    marked = tmp_path / "marked.md"
    marked.write_text(f"# Benchmarks\n\nbefore\n\n{table.BEGIN}\nold tables\n{table.END}\n\nafter\n")
    assert table.main([str(folder), "--update", str(marked)]) == 0
    text = marked.read_text()
    assert text == f"# Benchmarks\n\nbefore\n\n{section.rstrip()}\n\nafter\n" and "old tables" not in text
    plain = tmp_path / "plain.md"
    plain.write_text("# Benchmarks\n\nhand-written\n")
    table.main([str(folder), "--update", str(plain)])
    assert plain.read_text() == f"# Benchmarks\n\nhand-written\n\n{section}"
    assert (folder / table.OUTPUT_NAME).read_text() == section


@pytest.mark.parametrize("text", [f"{'<!-- gpu-suite:begin -->'}\nno end\n", "<!-- gpu-suite:end -->\n"
                                  "<!-- gpu-suite:begin -->\n"])
def test_update_refuses_broken_markers_and_writes_nothing(table, folder, tmp_path, text):
    target = tmp_path / "broken.md"
    target.write_text(text)
    with pytest.raises(SystemExit, match="markers; allowed: none"):
        table.main([str(folder), "--update", str(target)])
    assert target.read_text() == text and not (folder / table.OUTPUT_NAME).exists()


def test_a_missing_folder_is_named(table, tmp_path):
    with pytest.raises(SystemExit, match="is not a folder"):
        table.main([str(tmp_path / "absent")])
