"""The Triton GNA kernel as the compiler builds it for NVIDIA GPUs, checked on a machine without one.

For every problem (a window at a size, a dtype, a head_dim) and target GPU, this computes the
launch na_accel's launcher would make there (``triton_op.plan_launch``: its tiles, within the
target's shared memory and register caps, and every warps x stages configuration its autotuner
may pick), compiles each with Triton for that target (``triton.compile`` with the signature Triton
would bind for the real launch: the same specialization of strides and integers) and reports:

* shared memory (the compiler's figure) against the tile model's (``triton_tiles``) and the device's;
* registers per thread and spill bytes (from ``ptxas -v``, which Triton runs);
* how global memory is read: loads by width in bytes and 16-byte asynchronous copies (``cp.async``);
  scalar loads of the input's element size are the code shape that made the kernel slow;
* which tensor-core instruction the dots compile to (``wgmma`` on sm_90, ``mma.sync`` before).

    python eval/kernel_codegen.py                               # the CI set, every target, a table
    python eval/kernel_codegen.py --jobs 2 --json eval/results/kernel-codegen.json --update BENCHMARKS.md
    python eval/kernel_codegen.py --set full --jobs 2 --json full.json       # every case x dtype x head_dim
    python eval/kernel_codegen.py --targets sm_90 --cases flux-4k --dtypes bfloat16 --head-dims 128

Nothing runs on a GPU: the figures are the compiler's, not timings. Run it without
``TRITON_INTERPRET=1`` (the interpreter has no compiler; this script clears the flag for itself).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

if __name__ == "__main__":
    # Before the kernel is defined: the compiler, not the interpreter (the tests run this script in
    # a process of its own). A cache of its own: a cached kernel is not compiled again, and ptxas's
    # report (registers, spills) comes only from compiling.
    os.environ["TRITON_INTERPRET"] = "0"
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="na_accel-codegen-")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "eval")]

import torch  # noqa: E402

from na_accel.kernels.triton_backend import HEAD_DIM_LIMIT  # noqa: E402
from na_accel.kernels.triton_op import op_arguments, plan_launch  # noqa: E402
from na_accel.kernels.triton_tiles import LaunchConfig, TileBudget, shared_memory_bytes  # noqa: E402
from na_accel.windows import ResolvedWindow, WindowSpec  # noqa: E402


class Target(NamedTuple):
    name: str
    capability: int
    shared_memory: int  # opt-in shared memory per block, bytes
    devices: str


TARGETS = {t.name: t for t in (
    Target("sm_80", 80, 166912, "A100"),
    Target("sm_89", 89, 101376, "RTX 4090, L40S"),
    Target("sm_90", 90, 232448, "H100, H200"),
    Target("sm_120", 120, 101376, "RTX 5090"),
)}
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class Problem(NamedTuple):
    """One attention call as a processor hands it over: its window, text, batch and q/k/v layout."""

    name: str
    window: ResolvedWindow
    text_len: int
    text_first: bool
    batch: int = 1
    heads: int = 24
    padded_text: bool = False  # rows of the batch with fewer valid text keys (HAS_TEXT_VALID)
    token_stride: int | None = None  # q/k/v as views of one buffer with this many elements per token
    published: bool = False  # a window BENCHMARKS.md publishes or a family's shipped recipe runs


def _window(grid, kernel, stride, dilation=None, causal=None) -> ResolvedWindow:
    rank = len(grid)
    return WindowSpec(kernel, stride, dilation or (1,) * rank, causal or (False,) * rank).resolve(grid)


def published_problems() -> list[Problem]:
    """The published windows (eval/attention_bench.py's cases) and Wan 480p / 720p as its recipe runs them."""
    import attention_bench as bench

    cases = [bench.published_case(name) for name in bench.CASES]
    cases += [bench.family_case(*bench.FAMILY_CASES[name], name=name) for name in ("wan-480p", "wan-720p")]
    return [Problem(c.name, c.window, c.text_len, c.text_first, heads=c.heads, published=True) for c in cases]


def contract_problems() -> list[Problem]:
    """eval/verify_backend.py's cases (borders, odd sizes, stride, dilation, causal, 3-D; masked tiles),
    the even ones with padded text in a batch of two, and one whose token offsets pass 2**31."""
    import verify_backend

    problems = [Problem(f"contract-{i}", _window(grid, kernel, stride, dilation, causal), text, True, batch=batch,
                        heads=2, padded_text=batch > 1 and i % 2 == 0)
                for i, (grid, kernel, stride, dilation, causal, text, batch) in enumerate(verify_backend.CASES)]
    grid, text = (64, 64), 512
    wide = 2**31 // (math.prod(grid) + text - 1) + 1024  # (tokens - 1) x token stride passes 2**31
    problems.append(Problem("offsets-64", _window(grid, (20, 20), (4, 4)), text, True, heads=1,
                            token_stride=wide + (-wide) % 16))
    return problems


@lru_cache(maxsize=None)
def all_problems() -> dict[str, Problem]:
    return {p.name: p for p in published_problems() + contract_problems()}


# What the tests compile on every CI run (about a minute per target on one core): the published
# windows in bf16 at head_dim 128 with every configuration the autotuner may pick; the contract's
# cases at the launcher's default configuration; the other dtypes and head_dims on one window.
CI_SET = [
    {"cases": "published", "dtypes": ["bfloat16"], "head_dims": [128], "configs": "autotune"},
    {"cases": "contract", "dtypes": ["bfloat16"], "head_dims": [128], "configs": "default"},
    {"cases": ["flux-2k", "contract-6"], "dtypes": ["float16", "float32"], "head_dims": [128], "configs": "default"},
    {"cases": ["flux-2k", "hunyuan-video"], "dtypes": ["bfloat16"], "head_dims": [64, 256], "configs": "default"},
]
FULL_SET = [
    {"cases": "all", "dtypes": list(DTYPES), "head_dims": [64, 128, 256], "configs": "autotune"},
]


class Launch(NamedTuple):
    problem: str
    target: str
    dtype: str
    head_dim: int
    q_tile: tuple
    kv_tile: tuple
    masked: bool
    offsets_64: bool
    padded_text: bool
    config: LaunchConfig
    default: bool  # the configuration launched with autotuning off
    model_shared: int  # the tile model's shared memory for this launch


def launches(problem: Problem, target: Target, dtype: str, head_dim: int, configs: str):
    """The launches na_accel would make for ``problem`` on ``target``: (Launch, compile job) pairs."""
    tiles, autotuned = _plan(problem, target, dtype, head_dim, autotune=True)
    default = _plan(problem, target, dtype, head_dim, autotune=False)[1].configs[0]
    for config in (autotuned.configs if configs == "autotune" else (default,)):
        launch = Launch(problem.name, target.name, dtype, head_dim, tuple(tiles[:3]), tuple(tiles[3:6]), tiles[6] > 0,
                        autotuned.constexprs["OFFSETS_64"], problem.padded_text, config, config == default,
                        shared_memory_bytes(math.prod(tiles[:3]), math.prod(tiles[3:6]), head_dim,
                                            DTYPES[dtype].itemsize, config.stages))
        job = (problem.name, target.name, dtype, head_dim, config.warps, config.stages)
        yield launch, job


def _plan(problem: Problem, target: Target, dtype: str, head_dim: int, autotune: bool):
    """The launcher's tiles (``gna_forward``'s tile argument) and launch for ``problem`` on ``target``."""
    budget = TileBudget(head_dim, DTYPES[dtype].itemsize, target.shared_memory, target.capability)
    args = _op_arguments(problem, dtype, head_dim, budget)
    return args[9], plan_launch(*args[:3], args[0].new_empty(args[0].shape), *args[3:], budget, autotune=autotune)


def _op_arguments(problem: Problem, dtype: str, head_dim: int, budget: TileBudget) -> tuple:
    """``gna_forward``'s arguments for meta tensors laid out as the problem says."""
    w = problem.window
    seq = math.prod(w.grid) + problem.text_len
    shape = (problem.batch, seq, problem.heads, head_dim)
    if problem.token_stride is None:
        q, k, v = (torch.empty(shape, dtype=DTYPES[dtype], device="meta") for _ in range(3))
    else:  # views of one wide buffer (a fused projection), as big as the offsets need
        buffer = torch.empty((problem.batch, seq, problem.token_stride), dtype=DTYPES[dtype], device="meta")
        width = problem.heads * head_dim
        q, k, v = (buffer[..., i * width:(i + 1) * width].unflatten(-1, (problem.heads, head_dim)) for i in range(3))
    lens = None
    if problem.padded_text:
        lens = [problem.text_len] + [problem.text_len // 2] * (problem.batch - 1)
    return op_arguments(q, k, v, grid=w.grid, kernel_size=w.kernel_size, stride=w.stride, dilation=w.dilation,
                        is_causal=w.is_causal, text_len=problem.text_len, text_first=problem.text_first,
                        text_valid_lens=lens, scale=None, tiles=None, fuse_text=True, budget=budget)


# --- compiling one launch (in a worker process) ------------------------------------------------

_LOAD = re.compile(r"^\s*(?:@%p\d+\s+)?ld\.global((?:\.[\w:]+)*)\s", re.M)
_CP_ASYNC = re.compile(r"cp\.async\.c[ag]\.shared\.global(?:\.[\w:]+)*\s*\[[^\]]*\],\s*\[[^\]]*\],\s*(0x[0-9a-f]+|\d+)")
_BITS = re.compile(r"\.[bfsu](\d+)$")


def load_widths(ptx: str) -> dict[str, int]:
    """Global loads in the PTX by bytes per load (vector width x element), and cp.async copies by bytes."""
    widths: dict[str, int] = {}
    for suffix in _LOAD.findall(ptx):
        parts = suffix.split(".")
        vector = next((int(p[1:]) for p in parts if re.fullmatch(r"v\d", p)), 1)
        bits = next((int(m.group(1)) for p in parts if (m := _BITS.search("." + p))), 0)
        key = f"ld{vector * bits // 8}"
        widths[key] = widths.get(key, 0) + 1
    for size in _CP_ASYNC.findall(ptx):
        key = f"cp.async{int(size, 0)}"
        widths[key] = widths.get(key, 0) + 1
    return dict(sorted(widths.items()))


def tensor_cores(ptx: str) -> str:
    if "wgmma.mma_async" in ptx:
        return "wgmma"
    if "mma.sync" in ptx:
        return "mma.sync"
    return "none (FMA)"


def bind(job):
    """What ``triton.compile`` is given for this launch: Triton's own binder on the launch's
    arguments (tensors as 16-byte aligned pointers of their dtype, as torch allocates them), so the
    integers and strides are specialized exactly as on a GPU. Returns (target, source, options)."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import MockTensor, create_function_from_signature

    from na_accel.kernels.triton_gna import gna_forward_kernel as kernel

    if not hasattr(kernel, "params"):
        raise RuntimeError("the kernel is interpreted (TRITON_INTERPRET=1): run eval/kernel_codegen.py as a script")
    name, target_name, dtype, head_dim, warps, stages = job
    target = TARGETS[target_name]
    _, launch = _plan(all_problems()[name], target, dtype, head_dim, autotune=True)
    gpu = GPUTarget("cuda", target.capability, 32)
    backend = make_backend(gpu)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    runtime = [MockTensor(a.dtype) if isinstance(a, torch.Tensor) else a for a in launch.args]
    options = {**launch.constexprs, "num_warps": warps, "num_stages": stages}
    bound, specialization, parsed = binder(*runtime, **options)
    options, signature, constexprs, attrs = kernel._pack_args(backend, options, bound, specialization, parsed)
    return gpu, ASTSource(kernel, signature, constexprs, attrs), options


def binary_key(job) -> str:
    """Launches with the same key compile to the same binary (the kernel's cache key but for the
    source hash): what a GPU would compile once and reuse."""
    gpu, source, options = bind(job)
    return repr((gpu.arch, sorted(source.signature.items()), sorted(map(repr, source.constants.items())),
                 sorted(map(repr, source.attrs.items())), sorted((k, repr(v)) for k, v in options.__dict__.items())))


def compile_job(job) -> dict:
    """Compile one launch for its target; the compiler's figures."""
    import triton
    from triton import knobs

    gpu, source, options = bind(job)
    knobs.nvidia.dump_ptxas_log = True  # Triton prints ptxas -v's report: registers and spills
    log = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(log):
            compiled = triton.compile(source, target=gpu, options=options.__dict__)
    except Exception as exc:  # a launch that does not compile is a finding, not a crash of the survey
        return {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"}
    ptxas = log.getvalue()
    registers = re.search(r"Used (\d+) registers", ptxas)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", ptxas)
    ptx = compiled.asm["ptx"]
    return {
        "shared": compiled.metadata.shared,
        "registers": int(registers.group(1)) if registers else None,
        "spill_stores": int(spills.group(1)) if spills else None,
        "spill_loads": int(spills.group(2)) if spills else None,
        "loads": load_widths(ptx),
        "tensor_cores": tensor_cores(ptx),
        "compile_s": round(time.perf_counter() - start, 2),
    }


# --- the survey ---------------------------------------------------------------------------------

def plan(sets: list[dict], targets: list[str], cases: list[str] | None = None) -> list[tuple[Launch, tuple]]:
    problems = all_problems()
    groups = {"published": [p.name for p in problems.values() if p.published],
              "contract": [p.name for p in problems.values() if not p.published], "all": list(problems)}
    pairs, seen = [], set()
    for entry in sets:
        names = groups[entry["cases"]] if isinstance(entry["cases"], str) else entry["cases"]
        for name in names:
            if cases and name not in cases:
                continue
            for target in targets:
                for dtype in entry["dtypes"]:
                    for head_dim in entry["head_dims"]:
                        for launch, job in launches(problems[name], TARGETS[target], dtype, head_dim,
                                                    entry["configs"]):
                            if job not in seen:
                                seen.add(job)
                                pairs.append((launch, job))
    return pairs


def survey(pairs, jobs: int = 1, progress=None) -> list[dict]:
    """Compile each distinct binary once; every launch gets its binary's figures."""
    keys = [binary_key(job) for _, job in pairs]
    first: dict[str, tuple] = {}
    for key, (_, job) in zip(keys, pairs):
        first.setdefault(key, job)
    todo = list(first.values())
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = dict(zip(todo, _progress(pool.map(compile_job, todo), len(todo), progress)))
    else:
        results = dict(zip(todo, _progress(map(compile_job, todo), len(todo), progress)))
    rows = []
    for key, (launch, _) in zip(keys, pairs):
        facts = results[first[key]]
        target = TARGETS[launch.target]
        row = {**launch._asdict(), "config": launch.config.__dict__, "device_shared": target.shared_memory,
               "binary": hashlib.sha256(key.encode()).hexdigest()[:16], **facts}
        if "shared" in facts:
            row["fits"] = facts["shared"] <= target.shared_memory
            # loads under 16 bytes, but for the one int32 load of the valid text lengths (padded text)
            narrow = sum(n for kind, n in facts["loads"].items() if kind.startswith("ld") and int(kind[2:]) < 16)
            row["narrow_loads"] = narrow - launch.padded_text
        rows.append(row)
    return rows


def _progress(results, total, progress):
    if progress is None:
        return results
    from tqdm import tqdm
    return tqdm(results, total=total, desc="compiling", file=progress)


def table(rows: list[dict]) -> str:
    """A Markdown table: one row per (problem, target, dtype, head_dim) at its default configuration."""
    lines = ["| case | target | dtype, d | tiles q / kv | warps x stages | shared (model) / device | "
             "registers, spills | global loads | tensor cores |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["default"]:
            continue
        tiles = "x".join(map(str, r["q_tile"])) + " / " + "x".join(map(str, r["kv_tile"])) + (" masked" if r["masked"]
                                                                                             else "")
        if "error" in r:
            lines.append(f"| {r['problem']} | {r['target']} | {r['dtype']}, {r['head_dim']} | {tiles} | "
                         f"{r['config']['warps']} x {r['config']['stages']} | {r['error']} | | | |")
            continue
        loads = ", ".join(f"{k} x{v}" for k, v in r["loads"].items())
        lines.append(f"| {r['problem']} | {r['target']} | {r['dtype']}, {r['head_dim']} | {tiles} | "
                     f"{r['config']['warps']} x {r['config']['stages']} | {r['shared']:,} ({r['model_shared']:,}) / "
                     f"{r['device_shared']:,} | {r['registers']}, {r['spill_stores']} B | {loads} | "
                     f"{r['tensor_cores']} |")
    return "\n".join(lines)


BEGIN, END = "<!-- kernel-codegen:begin -->", "<!-- kernel-codegen:end -->"


def _has_section(path: Path) -> bool:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return BEGIN in text and END in text


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: an integer >= 1")
    return int(text)


def update_section(path: Path, rows: list[dict], versions: dict) -> None:
    """Replace the text between FILE's kernel-codegen markers with the published windows' table."""
    text = path.read_text()
    published = {p.name for p in all_problems().values() if p.published}
    shown = [r for r in rows if r["problem"] in published and r["dtype"] == "bfloat16" and r["head_dim"] == 128]
    if not shown:
        raise SystemExit("--update: no published window in bf16 at head_dim 128 was compiled; nothing to show")
    body = (f"Triton {versions['triton']}, torch {versions['torch']}; "
            f"`python eval/kernel_codegen.py {' '.join(sys.argv[1:])}`\n\n{table(shown)}")
    head, rest = text.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}")


def versions() -> dict:
    import triton
    return {"triton": triton.__version__, "torch": torch.__version__, "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=["ci", "full"], default="ci", help="which launches (default: ci)")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    parser.add_argument("--cases", default=None, help="only these problems (comma-separated names)")
    parser.add_argument("--dtypes", default=None, help="with --cases: these dtypes (default: the set's)")
    parser.add_argument("--head-dims", default=None, help="with --cases: these head_dims (default: the set's)")
    parser.add_argument("--jobs", type=_positive, default=1, help="compiler processes (default 1)")
    parser.add_argument("--json", default=None, help="write every launch's figures here")
    parser.add_argument("--table", action="store_true", help="print the Markdown table")
    parser.add_argument("--update", default=None, metavar="FILE",
                        help="replace FILE's kernel-codegen section with the published windows' table (bf16, d128)")
    args = parser.parse_args(argv)
    targets = args.targets.split(",")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"--targets: {', '.join(unknown)} unknown; allowed: {', '.join(TARGETS)}")
    problems = all_problems()
    cases = args.cases.split(",") if args.cases else None
    if cases and (bad := [c for c in cases if c not in problems]):
        parser.error(f"--cases: {', '.join(bad)} unknown; allowed: {', '.join(problems)}")
    dtypes = args.dtypes.split(",") if args.dtypes else ["bfloat16"]
    if bad := [d for d in dtypes if d not in DTYPES]:
        parser.error(f"--dtypes: {', '.join(bad)} unknown; allowed: {', '.join(DTYPES)}")
    head_dims = args.head_dims.split(",") if args.head_dims else ["128"]
    if bad := [d for d in head_dims if not d.isdigit() or not 1 <= int(d) <= HEAD_DIM_LIMIT]:
        parser.error(f"--head-dims: {', '.join(bad)} not allowed; allowed: integers 1..{HEAD_DIM_LIMIT}")
    if args.update and not _has_section(Path(args.update)):
        parser.error(f"--update: {args.update} is not a readable file with a {BEGIN} ... {END} section")
    sets = CI_SET if args.set == "ci" else FULL_SET
    if args.dtypes or args.head_dims:
        sets = [{"cases": "all", "dtypes": dtypes, "head_dims": [int(d) for d in head_dims], "configs": "autotune"}]
    pairs = plan(sets, targets, cases)
    started = time.perf_counter()
    rows = survey(pairs, args.jobs, progress=sys.stderr)
    report = {"versions": versions(), "set": args.set, "targets": {t: TARGETS[t]._asdict() for t in targets},
              "seconds": round(time.perf_counter() - started, 1), "launches": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    if args.table or not args.json:
        print(table(rows))
    if args.update:
        update_section(Path(args.update), rows, report["versions"])
    failed = [r for r in rows if "error" in r]
    print(f"{len(rows)} launches, {len({r['binary'] for r in rows})} binaries, "
          f"{len(failed)} failed to compile, {report['seconds']} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
