"""Fit a shipped cost profile (``na_accel/speed/profiles/``) to the project's measured results.

    python eval/fit_cost_profile.py                     # H100: rewrites na_accel/speed/profiles/h100.json
    python eval/fit_cost_profile.py --attention eval/results/<suite>/attention/*.json \\
        --bench eval/results/<suite>/steps/bench-*.json --output na_accel/speed/profiles/<device>.json

Inputs are the JSON of ``eval/attention_bench.py`` (dense SDPA and GNA joint attention per case:
the constants of the dense and the sparse kernel) and of ``na-accel bench`` runs of the same cases
inside a model (per layer call, the patched attention module's time beyond what the kernels
explain: the profile's ``call_overhead_s``). Every sample and the fit's worst error are written
into the profile, next to the device and versions they came from.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable from a checkout

from na_accel.speed.fit import fit_dense, fit_sparse  # noqa: E402
from na_accel.speed.problem import AttentionProblem, sparse_work  # noqa: E402
from na_accel.speed.profiles import PROFILE_FORMAT, parse_profile  # noqa: E402
from na_accel.windows import WindowSpec  # noqa: E402

sys.path.insert(0, str(ROOT / "eval"))
from attention_bench import CASES  # noqa: E402

RESULTS = ROOT / "eval" / "results"
# Legacy results (eval/results/*-h100.json): bench runs whose patched layers ran an attention_bench
# published case's window. Newer attention JSON names the recipe a family case came from.
BENCH_CASES = {"bench-flux-dev-1024.json": "flux-1k", "bench-flux-dev-2048.json": "flux-2k",
               "bench-flux-dev-4096.json": "flux-4k"}


def case_problem(result: dict, element_size: int) -> AttentionProblem:
    grid = tuple(result["grid"])
    if "kernel_size" in result:
        window, stride = result["kernel_size"], result["stride"]
        text_len, heads, head_dim = result["text_tokens"], result["heads"], result["head_dim"]
    else:  # legacy JSON: the published case's geometry
        grid, window, stride, text_len, _, heads, head_dim = CASES[result["case"]]
    rank = len(grid)
    resolved = WindowSpec(kernel_size=tuple(window), stride=tuple(stride), dilation=(1,) * rank,
                          is_causal=(False,) * rank).resolve(grid)
    return AttentionProblem((resolved,), text_len, result["batch"], heads, head_dim, element_size)


def same_window_case(path: Path, run: dict, results: list[dict]) -> dict | None:
    """The attention case that timed the window this bench run's patched layers ran, if any."""
    legacy = BENCH_CASES.get(path.name)
    for result in results:
        derived = result.get("derived_from") or {}
        if result["case"] == legacy or (derived.get("recipe") == (run.get("recipe") or {}).get("name")
                                         and list(result["grid"]) == list(run["token_grid"])):
            return result
    return None


def call_overhead(bench_files: list[Path], attention: dict, backend: str) -> tuple[float, list[dict]]:
    """Median over the bench runs of: (patched - dense) attention-module seconds per layer call,
    minus (GNA - dense) seconds of the same joint attention alone."""
    samples = []
    for path in bench_files:
        run = json.loads(path.read_text())
        found = same_window_case(path, run, attention["results"])
        if found is None or not isinstance(found["gna_s"].get(backend), float):
            continue
        case = found["case"]
        by_case = {case: found}
        dense, patched = run["runs"]["dense"], run["runs"]["patched"]
        per_call = (patched["attention_median_s"] - dense["attention_median_s"]) / dense["attention_layers"]
        kernel = by_case[case]["gna_s"][backend] - by_case[case]["dense_s"][by_case[case]["best_dense"]]
        samples.append({"bench": path.name, "case": case, "module_extra_s": per_call, "kernel_extra_s": kernel,
                        "call_overhead_s": per_call - kernel})
    if not samples:
        return 0.0, []
    return max(0.0, statistics.median(s["call_overhead_s"] for s in samples)), samples


def attention_shares(bench_files: list[Path], attention: dict) -> list[dict]:
    """Per bench run whose grid an attention case measured: dense SDPA seconds per layer call (the
    fastest, attention alone) x attention layers / the dense step's median seconds."""
    shares = []
    for path in bench_files:
        run = json.loads(path.read_text())
        family = run["model"]["family"]
        case = next((r for r in attention["results"] if list(r["grid"]) == list(run["token_grid"])
                     and (r.get("derived_from") or {}).get("family", family) == family), None)
        if case is None:
            continue
        reduced = run["model"].get("config_overrides") or {}
        dense = run["runs"]["dense"]
        sdpa = case["dense_s"][case["best_dense"]]
        shares.append({
            "family": run["model"]["family"], "grid": run["token_grid"],
            "share": min(1.0, sdpa * dense["attention_layers"] / dense["median_s"]),
            "source": (f"{case['best_dense']} SDPA {sdpa * 1e3:.3g} ms ({args_name(attention)} case {case['case']}) x "
                       f"{dense['attention_layers']} layers / dense step {dense['median_s']:.3g} s ({path.name}); "
                       f"attention modules incl. projections: {dense['attention_share']:.0%}"
                       + (f"; layers reduced: {reduced}" if reduced else "")),
        })
    return shares


def args_name(attention: dict) -> str:
    return f"attention_bench on {attention['device']['name']}"


# backends whose work the cost model counts with another backend's tiles (None: element-wise)
TILE_BACKENDS = {"reference": None}


def load_attention(paths: list[Path]) -> dict:
    """One attention record from attention_bench JSON file(s) (one case each, or several)."""
    records = [json.loads(p.read_text()) for p in paths]
    first = records[0]
    for path, record in zip(paths, records):
        if (record["device"]["name"], record["dtype"]) != (first["device"]["name"], first["dtype"]):
            raise SystemExit(f"fit_cost_profile: {path} is {record['device']['name']} {record['dtype']}, not "
                             f"{first['device']['name']} {first['dtype']} as {paths[0]}")
    return {**first, "results": [r for record in records for r in record["results"]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attention", type=Path, nargs="+", default=[RESULTS / "attention-h100.json"],
                        help="attention_bench JSON file(s) of one device and dtype")
    parser.add_argument("--bench", type=Path, nargs="*", default=sorted(RESULTS.glob("bench-*.json")))
    parser.add_argument("--backend", default=None, help="the GNA backend to fit (default: triton if timed, else "
                                                         "the first one timed)")
    parser.add_argument("--matches", nargs="+", default=None,
                        help="device-name substrings it applies to (default: the device's exact name)")
    parser.add_argument("--output", type=Path, default=ROOT / "na_accel" / "speed" / "profiles" / "h100.json")
    args = parser.parse_args(argv)

    attention = load_attention(args.attention)
    if args.backend is None:
        timed = [name for r in attention["results"] for name, t in r["gna_s"].items() if isinstance(t, float)]
        args.backend = "triton" if "triton" in timed else (timed[0] if timed else "triton")
    if args.matches is None:
        args.matches = [attention["device"]["name"]]
    element_size = {"bfloat16": 2, "float16": 2, "float32": 4}[attention["dtype"]]
    dense_samples, sparse_samples, rows = [], [], []
    for result in attention["results"]:
        seconds = result["gna_s"].get(args.backend)
        if not isinstance(seconds, float):
            continue
        problem = case_problem(result, element_size)
        best = result["best_dense"]
        dense_samples.append((problem.dense_flops(), result["dense_s"][best]))
        sparse_samples.append((sparse_work(problem, TILE_BACKENDS.get(args.backend, args.backend)), seconds))
        rows.append({"case": result["case"], "problem": problem.describe(), "dense_kernel": best,
                     "dense_s": result["dense_s"][best], "sparse_s": seconds})
    kernels = {r["dense_kernel"] for r in rows}
    dense, dense_fit = fit_dense(dense_samples, "/".join(sorted(kernels)))
    overhead, overhead_samples = call_overhead(args.bench, attention, args.backend)
    sparse, sparse_fit = fit_sparse(sparse_samples, dense, overhead)
    versions = attention["versions"]
    profile = {
        "format": PROFILE_FORMAT,
        "device": attention["device"]["name"],
        "matches": args.matches,
        "dtypes": ["bfloat16", "float16"] if element_size == 2 else [attention["dtype"]],
        "measured": (f"{', '.join(p.name for p in args.attention)} + {', '.join(p.name for p in args.bench)}: "
                     f"torch {versions.get('torch')}, triton {versions.get('triton')}, {attention['dtype']}; "
                     "fit by eval/fit_cost_profile.py"),
        "margin": 0.05,
        "shared_memory": attention["device"].get("shared_memory_per_block",
                                                 232448 if "H100" in attention["device"]["name"] else None),
        "capability": attention["device"].get("capability", 90 if "H100" in attention["device"]["name"] else None),
        "attention_shares": attention_shares(args.bench, attention),
        "dense": dense.__dict__,
        "backends": {args.backend: sparse.__dict__},
        "fit": {"dense_worst_relative_error": dense_fit.worst_relative_error,
                "sparse_worst_relative_error": sparse_fit.worst_relative_error,
                "notes": list(dense_fit.notes + sparse_fit.notes)},
        "samples": {"attention": rows, "call_overhead": overhead_samples},
    }
    parse_profile(profile, str(args.output))  # what na_accel will read back
    args.output.write_text(json.dumps(profile, indent=1) + "\n")
    print(f"wrote {args.output}: dense {dense.flops_per_s / 1e12:.0f} TFLOP/s + {dense.overhead_s * 1e6:.1f} us; "
          f"{args.backend} full {sparse.full_flops_per_s / 1e12:.0f} / masked {sparse.partial_flops_per_s / 1e12:.0f} "
          f"TFLOP/s + {sparse.overhead_s * 1e6:.1f} us, call overhead {sparse.call_overhead_s * 1e6:.0f} us; "
          f"worst error dense {dense_fit.worst_relative_error:.1%}, sparse {sparse_fit.worst_relative_error:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
