"""A/B of the Triton kernel's joint attention: this checkout against the 2026-11-23 kernel, and cuDNN.

    python eval/ab_bench.py --json ab.json                      # on a CUDA GPU (about 2 minutes)
    python eval/ab_bench.py --json ab.json --cases flux-4k --rounds 1
    python eval/ab_bench.py --smoke --json /tmp/ab.json         # CPU dry run: Triton's interpreter, tiny case

The variants are two versions of the package ``na_accel``, so each runs in a process of its own (one
import of ``na_accel`` per process, and each registers the custom op ``na_accel::gna_forward``), and
each is called through the API that version has:

  current     this checkout (``--current``, default: the folder above eval/):
              ``na_accel.kernels.joint.gna_joint_attention`` with ``na_accel.windows.WindowSpec``,
              the layout and window in one ``na_accel.kernels.call.GNACall``;
              text queries fused into the kernel's launch
  2026-11-23  the kernel BENCHMARKS.md measured on 2026-11-23, commit 41aea4a, exported by
              eval/gpu_prepare.sh (``--baseline``, default: .whl/ab-2026-11-23):
              ``na_accel.attention.gna_joint_attention`` with ``na_accel.recipe.WindowSpec``,
              the layout and window as keyword arguments;
              visual queries in the kernel, text queries through torch's SDPA

Both with ``backend="triton"``, autotuned as shipped. Every process makes the same inputs (a CUDA
generator seeded 0: q, k, v in that order, as eval/attention_bench.py; a fingerprint of them is
recorded and compared) and also times dense attention on them: cuDNN SDPA
(``F.scaled_dot_product_attention`` under ``sdpa_kernel([CUDNN_ATTENTION])``, 1 warm-up call, the
median of 5). So the speedup over cuDNN is taken within one process, and cuDNN's time in every
process shows whether the GPU's clocks moved between them. With ``--rounds 2`` the variants run
twice, in alternating order (A B, then B A). Timing: ``--warmup`` calls, then the median of
``--repeats`` calls, each between two CUDA events and synchronized. The outputs of the two variants
are compared on sampled rows (every 61st token and every text row).

Cases (24 heads x 128, bfloat16, batch 1):

  flux-4k        FLUX at 4096x4096: grid 256x256, window 80x80 stride 16x16, 512 text tokens first
  hunyuan-video  HunyuanVideo: grid 30x48x80, window 18x24x24 stride 16x8x8, 256 text tokens last

Writes one JSON with both variants (rewritten after each process). Exit status: 0 every variant
timed every case, 1 something failed (recorded), 2 bad arguments or no CUDA device.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = ROOT / ".whl" / "ab-2026-11-23"

CASES = {  # grid, window, stride, text tokens, text first (eval/attention_bench.py CASES)
    "flux-4k": ((256, 256), (80, 80), (16, 16), 512, True),
    "hunyuan-video": ((30, 48, 80), (18, 24, 24), (16, 8, 8), 256, False),
    "tiny": ((4, 6, 8), (2, 4, 4), (1, 2, 2), 8, False),  # --smoke
}
GPU_CASES, SMOKE_CASES = ("flux-4k", "hunyuan-video"), ("tiny",)
HEADS, HEAD_DIM, SMOKE_HEADS, SMOKE_HEAD_DIM = 24, 128, 2, 32
SAMPLE_EVERY = 61  # output rows kept to compare the variants
DENSE_REPEATS = 5  # cuDNN's time is steady, and at 115k tokens each call takes ~0.3 s


@dataclass(frozen=True)
class Variant:
    """A version of na_accel and the entry point it has."""

    name: str
    api: str  # module:function of the joint attention
    window_spec: str  # module:class of the window (resolved on the grid)
    call: str | None  # module:class of the call the function takes (None: text_len, text_first, window keywords)
    note: str


VARIANTS = {
    "current": Variant("current", "na_accel.kernels.joint:gna_joint_attention", "na_accel.windows:WindowSpec",
                       "na_accel.kernels.call:GNACall",
                       "this checkout; text queries fused into the kernel's launch"),
    "2026-11-23": Variant("2026-11-23", "na_accel.attention:gna_joint_attention", "na_accel.recipe:WindowSpec", None,
                          "commit 41aea4a as exported by eval/gpu_prepare.sh; text queries through torch SDPA"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="where the report goes (both variants, every case); required")
    parser.add_argument("--cases", type=_case_names, default=None,
                        help=f"comma-separated, of: {', '.join(GPU_CASES)} (default: both; --smoke: tiny)")
    parser.add_argument("--current", type=Path, default=ROOT, help="folder holding the current na_accel/")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE,
                        help="folder holding the 2026-11-23 na_accel/ (default: .whl/ab-2026-11-23)")
    parser.add_argument("--rounds", type=_positive, default=None, help="times each variant runs (default: 2, --smoke 1)")
    parser.add_argument("--warmup", type=_non_negative, default=None, help="untimed calls first (default: 3, --smoke 1)")
    parser.add_argument("--repeats", type=_positive, default=None, help="timed calls (default: 15, --smoke 1)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds for every process together (default 300); a round that would not fit is skipped")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--smoke", action="store_true", help="CPU dry run: Triton's interpreter, the tiny case")
    # one process of one variant (the driver starts these)
    parser.add_argument("--worker", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None and not args.json:
        parser.error("--json is required: where the report goes")
    if args.cases and args.smoke and args.cases != list(SMOKE_CASES):
        parser.error("--smoke runs the tiny case only; leave out --cases")
    args.cases = args.cases or list(SMOKE_CASES if args.smoke else GPU_CASES)
    args.rounds = args.rounds or (1 if args.smoke else 2)
    args.warmup = (1 if args.smoke else 3) if args.warmup is None else args.warmup
    args.repeats = args.repeats or (1 if args.smoke else 15)
    return args


def _case_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in CASES]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"{', '.join(bad) or repr(text)}: not a case; allowed: {', '.join(CASES)}")
    return names


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number >= 1")
    return int(text)


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number >= 0")
    return int(text)


def sample_rows(grid, text: int, text_first: bool) -> list[int]:
    """The output rows the variants are compared on: every SAMPLE_EVERY-th token and every text row."""
    n_visual = math.prod(grid)
    text_start = 0 if text_first else n_visual
    return sorted(set(range(0, n_visual + text, SAMPLE_EVERY)) | set(range(text_start, text_start + text)))


# ----------------------------------------------------------------------------------------------
# Worker: one variant, every case, in this process
# ----------------------------------------------------------------------------------------------


def _resolve(path: str):
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _failure(exc: Exception) -> str:
    import traceback

    traceback.print_exc()
    return f"{type(exc).__name__}: {str(exc).strip()[:400]}"


def worker(args: argparse.Namespace) -> int:
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from gpu_env import machine

    variant = VARIANTS[args.worker]
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("ab_bench.py: no CUDA device visible; on a CPU run --smoke", file=sys.stderr)
        return 2
    joint_attention, window_spec = _resolve(variant.api), _resolve(variant.window_spec)
    gna_call = _resolve(variant.call) if variant.call else None
    import na_accel

    loaded = Path(na_accel.__file__).resolve().parent
    if args.expect and loaded != (args.expect / "na_accel").resolve():
        print(f"ab_bench.py: variant {variant.name} imported na_accel from {loaded}, expected "
              f"{args.expect / 'na_accel'} (PYTHONPATH)", file=sys.stderr)
        return 1
    heads, head_dim = (SMOKE_HEADS, SMOKE_HEAD_DIM) if args.smoke else (HEADS, HEAD_DIM)
    dense_backend = SDPBackend.MATH if args.smoke else SDPBackend.CUDNN_ATTENTION
    report = {"variant": variant.name, "api": variant.api, "window_spec": variant.window_spec,
              "machine": machine(device), "cases": {}}

    def measure(fn, warmup=args.warmup, repeats=args.repeats) -> list[float]:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                begin = time.perf_counter()
                fn()
                times.append((time.perf_counter() - begin) * 1e3)
        return times

    for name in args.cases:
        grid, kernel, stride, text, text_first = CASES[name]
        row: dict = {}
        try:
            window = window_spec(kernel, stride, (1,) * len(grid), (False,) * len(grid)).resolve(grid)
            generator = torch.Generator(device=device).manual_seed(0)
            shape = (1, math.prod(grid) + text, heads, head_dim)
            q, k, v = (torch.randn(shape, generator=generator, device=device, dtype=torch.bfloat16) for _ in range(3))
            row["inputs_sha1"] = hashlib.sha1(b"".join(
                t.flatten()[::9973].float().cpu().numpy().tobytes() for t in (q, k, v))).hexdigest()

            if gna_call is not None:
                layout, keywords = (gna_call(window, text, text_first),), {}
            else:
                layout, keywords = (), dict(text_len=text, text_first=text_first, window=window)

            def call():
                return joint_attention(q, k, v, *layout, backend="triton", **keywords)

            begin = time.perf_counter()
            out = call()
            if device == "cuda":
                torch.cuda.synchronize()
            row["first_call_s"] = round(time.perf_counter() - begin, 2)  # compile + autotune
            torch.save(out[:, sample_rows(grid, text, text_first)].cpu(), args.samples / f"{name}.pt")
            del out
            times = measure(call)
            row.update(ms=statistics.median(times), min_ms=min(times), max_ms=max(times))
        except Exception as exc:  # noqa: BLE001 - recorded; the next case runs
            row["error"] = _failure(exc)
        if "inputs_sha1" in row:  # dense attention on the same inputs, in the same process
            row["dense"] = {"backend": "math (smoke)" if args.smoke else "cudnn"}
            try:
                qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # [B, heads, S, D] views, as diffusers has them
                with sdpa_kernel([dense_backend]):
                    dense = measure(lambda: F.scaled_dot_product_attention(qh, kh, vh), min(args.warmup, 1),
                                    min(args.repeats, DENSE_REPEATS))
                row["dense"].update(ms=statistics.median(dense), min_ms=min(dense), max_ms=max(dense))
                if "ms" in row:
                    row["speedup_vs_dense"] = row["dense"]["ms"] / row["ms"]
            except Exception as exc:  # noqa: BLE001
                row["dense"]["error"] = _failure(exc)
        q = k = v = qh = kh = vh = None  # noqa: F841 - the next case's inputs need the memory
        if device == "cuda":
            torch.cuda.empty_cache()
        report["cases"][name] = row
        print(f"[{variant.name}] {name}: {json.dumps(row)}", flush=True)
        args.worker_json.write_text(json.dumps(report, indent=1, default=str))
    return 1 if any("error" in row or "error" in row.get("dense", {}) for row in report["cases"].values()) else 0


# ----------------------------------------------------------------------------------------------
# Driver: the variants in processes of their own, one report
# ----------------------------------------------------------------------------------------------


def run_worker(args, variant: str, folder: Path, round_: int, work: Path, timeout: float) -> dict:
    """One process of ``variant`` (its na_accel first on PYTHONPATH); its output passed through."""
    out_json = work / f"{variant}-r{round_}.json"
    samples = work / f"samples-{variant}-r{round_}"
    samples.mkdir(parents=True, exist_ok=True)
    others = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
              if p and Path(p).resolve() not in (ROOT.resolve(), folder.resolve())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), *others]), "PYTHONUNBUFFERED": "1"}
    if folder.resolve() != ROOT.resolve():
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # the baseline's folder is carried: no bytecode in it
    if args.smoke:
        env.update(TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")
    else:
        env.setdefault("TRITON_PRINT_AUTOTUNING", "1")  # the autotuner's pick, in the log and the JSON
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", variant, "--worker-json", str(out_json),
               "--samples", str(samples), "--expect", str(folder), "--cases", ",".join(args.cases),
               "--warmup", str(args.warmup), "--repeats", str(args.repeats), *(["--smoke"] if args.smoke else [])]
    begin = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    lines: list[str] = []

    def pump():
        for line in process.stdout:
            lines.append(line)
            print(f"  {line}", end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=max(timeout, 1.0))
    except subprocess.TimeoutExpired:
        process.kill()
        code = "timeout"
        process.wait()
    reader.join(timeout=5)
    result = {"round": round_, "exit_code": code, "seconds": round(time.perf_counter() - begin, 1),
              "timeout_s": round(timeout), "autotune_picks": [l.strip() for l in lines if "best config" in l]}
    if code == "timeout":
        result["error"] = f"stopped after {timeout:.0f} s"
    try:
        result["report"] = json.loads(out_json.read_text())
    except (OSError, ValueError):
        result.setdefault("error", "no report: " + "".join(lines[-5:]).strip()[-400:])
    result["samples"] = str(samples)
    return result


def compare_samples(a: Path, b: Path) -> dict:
    import torch

    x, y = torch.load(a).float(), torch.load(b).float()
    diff = x - y
    return {"rows": x.shape[1], "max_abs": diff.abs().max().item(), "rel_fro": (diff.norm() / y.norm()).item(),
            "bit_equal": bool(torch.equal(x, y))}


def summarize(report: dict, runs: dict[str, list[dict]]) -> None:
    """Per case and variant: medians over rounds, the speedup over cuDNN, current vs 2026-11-23."""
    cases = {}
    for name in report["settings"]["cases"]:
        grid, kernel, stride, text, text_first = CASES[name]
        entry = {"grid": list(grid), "window": list(kernel), "stride": list(stride), "text": text,
                 "text_first": text_first, "tokens": math.prod(grid) + text, "variants": {}}
        for variant, results in runs.items():
            rows = [r["report"]["cases"].get(name, {}) for r in results if "report" in r]
            timed = [row for row in rows if "ms" in row]
            summary: dict = {"rounds": len(timed)}
            if timed:
                summary.update(
                    ms=statistics.median(row["ms"] for row in timed), ms_rounds=[row["ms"] for row in timed],
                    min_ms=min(row["min_ms"] for row in timed), first_call_s=[row["first_call_s"] for row in timed],
                    inputs_sha1=sorted({row["inputs_sha1"] for row in timed}))
            dense = [row["dense"] for row in rows if "ms" in row.get("dense", {})]
            if dense:
                summary.update(dense_backend=dense[0]["backend"], dense_ms=statistics.median(d["ms"] for d in dense),
                               dense_ms_rounds=[d["ms"] for d in dense])
            ratios = [row["speedup_vs_dense"] for row in rows if "speedup_vs_dense" in row]
            if ratios:
                summary["speedup_vs_dense"] = statistics.median(ratios)
            errors = [row["error"] for row in rows if "error" in row]
            errors += [f"dense: {row['dense']['error']}" for row in rows if "error" in row.get("dense", {})]
            if errors or not timed:
                summary["error"] = errors[0] if errors else "not run (see the variant's processes)"
            if len(results) > 1 and all((Path(r["samples"]) / f"{name}.pt").exists() for r in results):
                first, last = (Path(r["samples"]) / f"{name}.pt" for r in (results[0], results[-1]))
                summary["rounds_bit_equal"] = compare_samples(first, last)["bit_equal"]
            entry["variants"][variant] = summary
        current, baseline = entry["variants"].get("current", {}), entry["variants"].get("2026-11-23", {})
        if "ms" in current and "ms" in baseline:
            comparison = {"speedup_current_over_baseline": baseline["ms"] / current["ms"],
                          "same_inputs": current["inputs_sha1"] == baseline["inputs_sha1"]
                          and len(current["inputs_sha1"]) == 1}
            paths = [Path(runs[v][0]["samples"]) / f"{name}.pt" for v in ("current", "2026-11-23")]
            if all(p.exists() for p in paths):
                comparison["outputs_sampled"] = compare_samples(*paths)
            entry["current_vs_2026-11-23"] = comparison
        cases[name] = entry
    report["cases"] = cases


def driver(args: argparse.Namespace) -> int:
    folders = {"current": args.current, "2026-11-23": args.baseline}
    work = args.work or Path(tempfile.mkdtemp(prefix="ab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "tool": "eval/ab_bench.py",
        "command": shlex.join(["python", "eval/ab_bench.py", *sys.argv[1:]]),
        "mode": "smoke" if args.smoke else "gpu",
        "finished": False,
        "settings": {"cases": args.cases, "heads": SMOKE_HEADS if args.smoke else HEADS,
                     "head_dim": SMOKE_HEAD_DIM if args.smoke else HEAD_DIM, "dtype": "bfloat16", "batch": 1,
                     "warmup": args.warmup, "repeats": args.repeats, "rounds": args.rounds,
                     "timing": "wall clock (smoke)" if args.smoke else "median of CUDA-event times, synchronized",
                     "inputs": "torch.randn on the device, generator seeded 0: q, k, v",
                     "dense": "math SDPA (smoke)" if args.smoke else "cuDNN SDPA",
                     "autotune": os.environ.get("NA_ACCEL_TRITON_AUTOTUNE", "1") != "0"},
        "variants": {},
        "errors": [],
    }
    for name, variant in VARIANTS.items():
        report["variants"][name] = {"folder": str(folders[name]), "api": variant.api,
                                    "window_spec": variant.window_spec, "note": variant.note, "processes": []}
        source = folders[name] / "SOURCE"
        if source.is_file():
            report["variants"][name]["source"] = source.read_text().strip()

    def write():
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")

    missing = [n for n, f in folders.items() if not (f / "na_accel" / "__init__.py").is_file()]
    for name in missing:
        hint = " (export it: bash eval/gpu_prepare.sh)" if name == "2026-11-23" else ""
        report["errors"].append(f"{name}: no na_accel/ in {folders[name]}{hint}")
    order = [n for n in VARIANTS if n not in missing]
    runs: dict[str, list[dict]] = {name: [] for name in order}
    deadline = time.monotonic() + args.budget
    longest = 0.0
    for round_ in range(args.rounds):
        for name in (order if round_ % 2 == 0 else order[::-1]):
            left = deadline - time.monotonic()
            # the first round takes what it needs (compiles, autotunes); a later one must fit
            if round_ > 0 and left < 1.2 * longest:
                report["errors"].append(f"round {round_ + 1} of {name}: skipped, {left:.0f} s left of the budget")
                continue
            # first round: an equal share of what is left for each process still to start in it
            timeout = left / (len(order) - order.index(name)) if round_ == 0 else left
            result = run_worker(args, name, folders[name], round_, work, timeout)
            longest = max(longest, result["seconds"])
            runs[name].append(result)
            process = {k: v for k, v in result.items() if k not in ("report",)}
            if "report" in result:
                process["machine"] = result["report"]["machine"]
                report.setdefault("device", result["report"]["machine"]["device"])
            report["variants"][name]["processes"].append(process)
            if "error" in result or result["exit_code"] != 0:
                report["errors"].append(f"{name} round {round_ + 1}: exit {result['exit_code']}"
                                        + (f", {result['error']}" if "error" in result else ""))
            summarize(report, runs)
            write()
    summarize(report, runs)
    report["finished"] = True
    write()
    for name, entry in report["cases"].items():
        line = ", ".join(f"{v} {s['ms']:.2f} ms" + (f" ({s['speedup_vs_dense']:.2f}x {s['dense_backend']})"
                                                    if "speedup_vs_dense" in s else "")
                         for v, s in entry["variants"].items() if "ms" in s)
        vs = entry.get("current_vs_2026-11-23", {}).get("speedup_current_over_baseline")
        print(f"ab_bench {name}: {line or 'no timings'}" + (f"; current {vs:.3f}x the 2026-11-23 kernel" if vs else ""))
    complete = all("ms" in s and "error" not in s for e in report["cases"].values() for s in e["variants"].values()) \
        and not missing and all(len(e["variants"]) == len(VARIANTS) for e in report["cases"].values())
    return 0 if complete and not report["errors"] else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # gpu_env
        return worker(args)
    if not args.smoke:
        import torch

        if not torch.cuda.is_available():
            print("ab_bench.py: no CUDA device visible; on a CPU run --smoke (a dry run under Triton's interpreter)",
                  file=sys.stderr)
            return 2
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
