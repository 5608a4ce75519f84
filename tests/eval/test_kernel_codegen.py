"""The Triton kernel as the compiler builds it for sm_80 / sm_89 / sm_90 / sm_120, on CI's CPU
(eval/kernel_codegen.py: the launcher's own tiles and launch configurations, compiled by Triton for
each target; shared memory, registers and spills from the compiler and ptxas, loads and tensor-core
instructions read from the PTX). What a GPU would run is checked here against the compiler's
figures, not against the launcher's arithmetic: a kernel that compiles to scalar loads, spills or
overflows a device's shared memory fails CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "eval" / "kernel_codegen.py"
TARGETS = ("sm_80", "sm_89", "sm_90", "sm_120")
SIXTEEN_BIT = ("bfloat16", "float16")
# "At most a few hundred bytes" of spills per thread before Hopper (non-Hopper tile caps keep the
# launcher's choice there; 128 x 128 tiles spilled 1.2-2.1 KB).
PRE_HOPPER_SPILL_LIMIT = 300
# The one autotuner candidate on sm_90 allowed to spill: masked 128 x 128 tiles at 3 stages (the
# launcher's default runs them at 2; the autotuner times both).
HOPPER_CANDIDATE_SPILL_LIMIT = 16


def _load_tool():
    spec = importlib.util.spec_from_file_location("kernel_codegen", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _survey(target: str, tmp_path: Path) -> list[dict]:
    out = tmp_path / f"{target}.json"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, str(TOOL), "--targets", target, "--json", str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["versions"]["triton"] and report["targets"][target]["shared_memory"] > 0
    return report["launches"]


def _where(row: dict) -> str:
    return (f"{row['problem']} {row['target']} {row['dtype']} d{row['head_dim']} tiles {row['q_tile']}/{row['kv_tile']}"
            f"{' masked' if row['masked'] else ''} {row['config']['warps']}w x {row['config']['stages']}s")


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_compiled_kernel_for_each_target(target, tmp_path):
    """One compile survey per target (30-60 s on a CI core), every property on its rows."""
    rows = _survey(target, tmp_path)
    assert {r["problem"] for r in rows} >= {"flux-1k", "flux-2k", "flux-4k", "hunyuan-video", "wan-480p", "wan-720p",
                                            "contract-0", "contract-7", "offsets-64"}
    assert {r["dtype"] for r in rows} == {"bfloat16", "float16", "float32"}
    assert {r["head_dim"] for r in rows} == {64, 128, 256}
    assert any(r["offsets_64"] for r in rows) and any(r["padded_text"] for r in rows)
    assert any(r["masked"] for r in rows) and any(not r["masked"] for r in rows)

    errors = [f"{_where(r)}: {r['error']}" for r in rows if "error" in r]
    assert not errors, errors

    # Every configuration the autotuner may pick fits the device's shared memory, by the compiler's figure.
    assert not [_where(r) for r in rows if r["shared"] > r["device_shared"]]
    # The tile model the launcher budgets with never under-counts the compiler; on sm_90 it is the
    # compiler's figure for 128-row q tiles on tensor cores (the published windows' tiles).
    under = [f"{_where(r)}: compiler {r['shared']} > model {r['model_shared']}" for r in rows
             if r["shared"] > r["model_shared"]]
    assert not under, under
    if target == "sm_90":
        exact = [r for r in rows if r["dtype"] in SIXTEEN_BIT and r["q_tile"][0] * r["q_tile"][1] * r["q_tile"][2] == 128]
        assert exact and not [f"{_where(r)}: {r['shared']} != {r['model_shared']}" for r in exact
                              if r["shared"] != r["model_shared"]]

    # Key / value tiles arrive as 16-byte vectors through asynchronous copies (the software
    # pipeline): no scalar loads of single elements, whatever the dtype, head_dim or strides.
    assert not [f"{_where(r)}: {r['loads']}" for r in rows if r["narrow_loads"] > 0]
    assert not [f"{_where(r)}: {r['loads']}" for r in rows if r["loads"].get("cp.async16", 0) == 0]

    # Tensor cores: wgmma on Hopper, mma.sync before; float32 runs exact (IEEE) FMA dots.
    expected = "wgmma" if target == "sm_90" else "mma.sync"
    assert not [f"{_where(r)}: {r['tensor_cores']}" for r in rows
                if r["tensor_cores"] != (expected if r["dtype"] in SIXTEEN_BIT else "none (FMA)")]

    # Registers: the launcher's choice for 16-bit inputs does not spill on sm_90 (a few hundred bytes
    # at most before Hopper); the autotuner's candidates on sm_90 at most 16 B.
    chosen = [r for r in rows if r["default"] and r["dtype"] in SIXTEEN_BIT]
    limit = 0 if target == "sm_90" else PRE_HOPPER_SPILL_LIMIT
    assert chosen and not [f"{_where(r)}: {r['spill_stores']} B" for r in chosen if r["spill_stores"] > limit]
    if target == "sm_90":
        candidates = [r for r in rows if r["dtype"] in SIXTEEN_BIT]
        assert not [f"{_where(r)}: {r['spill_stores']} B" for r in candidates
                    if r["spill_stores"] > HOPPER_CANDIDATE_SPILL_LIMIT]

    # No recompilation per resolution: the binary depends on the tiles, dtype, head_dim class and
    # configuration, never on the grid, window or text length (runtime integers, unspecialized).
    binaries = defaultdict(set)
    for r in rows:
        binaries[(r["dtype"], r["head_dim"], tuple(r["q_tile"]), tuple(r["kv_tile"]), r["masked"], r["padded_text"],
                  r["offsets_64"], r["config"]["warps"], r["config"]["stages"])].add((r["binary"], r["problem"]))
    shared_binary = [v for v in binaries.values() if len({p for _, p in v}) > 1]
    assert shared_binary, "no two problems of different sizes launch the same tiles: the check checks nothing"
    assert not [v for v in binaries.values() if len({b for b, _ in v}) > 1]


def test_load_widths_read_vectors_scalars_and_async_copies():
    tool = _load_tool()
    ptx = "\n".join([
        "\tld.global.v4.b32 \t{%r1, %r2, %r3, %r4}, [ %rd1 + 0 ];",
        "\t@%p3 ld.global.b16 \t%rs1, [ %rd2 + 0 ];",
        "\t@%p3 ld.global.b16 \t%rs2, [ %rd3 + 0 ];",
        "\tld.global.L1::evict_last.b32 \t%r9, [ %rd4 + 0 ];",
        "\tcp.async.cg.shared.global [ %r6942 + 0 ], [ %rd111 + 0 ], 0x10, %r2499;",
        "\tcp.async.ca.shared.global [ %r1 + 0 ], [ %rd1 + 0 ], 4;",
        "\tcp.async.commit_group;",
        "\tst.global.v4.b32 \t[ %rd5 + 0 ], {%r1, %r2, %r3, %r4};",
    ])
    assert tool.load_widths(ptx) == {"cp.async16": 1, "cp.async4": 1, "ld16": 1, "ld2": 2, "ld4": 1}
    assert tool.tensor_cores("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16") == "wgmma"
    assert tool.tensor_cores("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32") == "mma.sync"
    assert tool.tensor_cores("fma.rn.f32") == "none (FMA)"


def test_bad_arguments_are_refused_by_name_before_compiling(tmp_path, capsys):
    (tmp_path / "plain.md").write_text("no markers here")
    cases = ((["--targets", "sm_75"], "--targets: sm_75 unknown; allowed: sm_80, sm_89, sm_90, sm_120"),
             (["--cases", "flux-8k"], "--cases: flux-8k unknown; allowed: flux-1k"),
             (["--dtypes", "int8"], "--dtypes: int8 unknown; allowed: bfloat16, float16, float32"),
             (["--head-dims", "0,x"], "--head-dims: 0, x not allowed; allowed: integers 1..256"),
             (["--jobs", "0"], "argument --jobs: '0' is not allowed; allowed: an integer >= 1"),
             (["--update", str(tmp_path / "plain.md")],
              "plain.md is not a readable file with a <!-- kernel-codegen:begin --> ... "
              "<!-- kernel-codegen:end --> section"))
    # As a script, once (the exit status and stderr a user sees) ...
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    args, message = cases[0]
    result = subprocess.run([sys.executable, str(TOOL), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    # ... and every refusal through its main() in this process (each script start imports torch and Triton).
    tool = _load_tool()
    for args, message in cases:
        with pytest.raises(SystemExit) as info:
            tool.main(args)
        assert info.value.code == 2 and message in capsys.readouterr().err
