"""The stages of the GPU suite; ``eval/gpu_suite.sh`` runs each in its own process, in order, in its budget.

    python eval/gpu_suite.py preflight --out DIR [--smoke] [--command TEXT]
    python eval/gpu_suite.py numerics|attention|steps --out DIR --budget SECONDS [--smoke]
    python eval/gpu_suite.py record --out DIR --stage NAME --exit-code N --seconds S --budget B

A stage plans its items first and writes its index (``DIR/<stage>.json``: every item with its exact
command, its JSON file, its status), then runs them in order and rewrites the index after each one,
so a stage stopped at any point leaves what it finished and says what it did not run. An item starts
only while its planning estimate fits in what is left of the stage's budget. The items are the
existing tools, called in-process (one Python and CUDA start per stage, and Triton's compiled
kernels stay warm from one item to the next):

* numerics: ``eval/verify_backend.py --backend triton`` per dtype, against the float32 reference;
* attention: ``eval/attention_bench.py`` per case (published and family cases; ``--smoke``: every
  family's case at a small size);
* steps: ``na-accel bench`` per model and size, one denoising step dense vs patched (random weights
  on the GPU, with layers cut where a full model would not fit the budget; ``--smoke``: the tiny
  presets).

``--smoke`` runs the same stages on the CPU with tiny sizes: it proves the suite runs end to end,
its timings mean nothing. Exit status of a stage: 0 all items ran, 1 one failed, 3 some were not
started (budget), 2 bad arguments or a failed preflight.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import math
import os
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable from a checkout

STAGES = ("numerics", "attention", "steps")
DTYPES = ("bfloat16", "float16", "float32")
MARGIN_S = 5.0  # kept free at a stage's end: writing its index, the process's exit

# Planning estimates (seconds on an H100; an H200 is a little faster). A new Triton tile shape costs
# ~9 s on its first call (compile + autotune of 6 launch configs: first_call_s in
# eval/results/tile-sweep-h100.json); with autotuning off (numerics) ~2 s per shape.
GPU_FIRST_CALL_S = 8.0
NUMERICS_DTYPE_S = 20.0  # 8 cases, each a new shape
# Dense attention on Hopper: cuDNN ~600 TFLOP/s at these sizes, flash about half (NOTES.md §7).
CUDNN_FLOPS = 600e12

# The published cases first (the reference points), then the families never timed, then the
# FLUX sizes already published.
ATTENTION_FIRST = ("flux-4k", "hunyuan-video", "hunyuan-video-720p", "wan-480p", "wan-720p", "cosmos",
                   "hunyuan-video15", "qwen-image", "flux2")
ATTENTION_WARMUP, ATTENTION_REPEATS = 2, 5
GPU_ATTENTION_ARGS = ["--device", "cuda", "--dtype", "bfloat16", "--backends", "fused", "--dense-backends",
                      "cudnn,flash", "--warmup", str(ATTENTION_WARMUP), "--repeats", str(ATTENTION_REPEATS)]
SMOKE_ATTENTION_ARGS = ["--device", "cpu", "--dtype", "float32", "--backends", "reference", "--warmup", "0",
                        "--repeats", "1", "--heads", "1", "--head-dim", "16"]


class StepRow(NamedTuple):
    """One ``na-accel bench`` run: a family's model at a size (None: the model's default)."""

    family: str
    height: int | None = None
    width: int | None = None
    frames: int | None = None
    layers: float = 1.0  # share of each layer-count config key kept (1: the full model)
    repeats: int = 1
    estimate_s: float = 10.0  # planning estimate of the whole run: build, 2 warm-ups, 2 x repeats


# Dense step times (H100, full models, NOTES.md §7 and eval/results/bench-*.json): FLUX.1-dev 0.20 s
# (1K), 0.89 s (2K), 7.04 s (4K); HunyuanVideo 29.4 s at 30x48x80 (33x45x80 is 3% more tokens); Wan
# 2.1 14B 3.29 s at 480p. Not measured, scaled by FLOPs from those: Wan 720p ~12 s, Cosmos 7B ~4.7 s,
# HunyuanVideo 1.5 ~4.2 s, Qwen-Image ~0.35 s, FLUX.2 ~0.55 s. Layers are cut where a full model's
# two warm-ups and repeats would take most of the stage (the table says which).
GPU_STEP_ROWS = (
    StepRow("flux", 4096, 4096, layers=1.0, repeats=1, estimate_s=30),
    StepRow("hunyuan_video", 720, 1280, 129, layers=0.2, repeats=1, estimate_s=20),
    StepRow("wan", 480, 832, 81, layers=1.0, repeats=1, estimate_s=18),
    StepRow("cosmos", layers=0.5, repeats=1, estimate_s=15),
    StepRow("hunyuan_video15", layers=0.25, repeats=1, estimate_s=12),
    StepRow("qwen_image", layers=1.0, repeats=3, estimate_s=12),
    StepRow("flux2", layers=0.25, repeats=3, estimate_s=8),
    StepRow("wan", 720, 1280, 81, layers=0.125, repeats=1, estimate_s=12),
    StepRow("flux", 2048, 2048, layers=1.0, repeats=3, estimate_s=14),
    StepRow("flux", 1024, 1024, layers=1.0, repeats=3, estimate_s=10),
)
# The families of issue 35, at their defaults, a share of their blocks: a second plan, since the
# 8-minute run's steps stage is full (`python eval/gpu_suite.py steps --rows new ...`; not measured
# yet). Z-Image and Kandinsky 6 have no row: the synthetic loop can't drive their transformers
# (FamilySpec.synthetic_loop_problem says why).
NEW_FAMILY_STEP_ROWS = (
    StepRow("minimax_h3", layers=0.1, repeats=1, estimate_s=15),
    StepRow("hunyuan_image", layers=0.1, repeats=1, estimate_s=8),
    StepRow("helios", layers=0.125, repeats=1, estimate_s=8),
    StepRow("chroma", layers=0.25, repeats=1, estimate_s=6),
    StepRow("flux3", layers=0.25, repeats=1, estimate_s=6),
    StepRow("wan_vace", layers=0.125, repeats=1, estimate_s=8),
    StepRow("skyreels_v2", layers=0.125, repeats=1, estimate_s=8),
    StepRow("ltx_video", layers=0.25, repeats=1, estimate_s=8),
    StepRow("ltx2", layers=0.25, repeats=1, estimate_s=10),
)


# --------------------------------------------------------------------------------------------
# Stage bookkeeping
# --------------------------------------------------------------------------------------------


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)  # a reader (or a kill) never sees half a file


def item(name: str, tool: str, argv: list[str], json_path: str, estimate_s: float, **details) -> dict:
    """A planned item: its exact command (as a shell line), where its JSON goes, its estimate."""
    return {"name": name, "status": "pending", "reason": None, "command": shlex.join([*tool.split(), *argv]),
            "json": json_path, "estimate_s": round(estimate_s, 1), "seconds": None, **details}


def run_items(out: Path, stage: str, budget: float, smoke: bool, plan: list[tuple[dict, Callable[[], int]]],
              **header) -> int:
    """Run the planned items in order within ``budget`` seconds, the index rewritten after each."""
    index = {"stage": stage, "mode": "smoke" if smoke else "gpu", "started": now(), "finished": None,
             "budget_s": budget, **header, "items": [entry for entry, _ in plan]}
    path = out / f"{stage}.json"
    write_json(path, index)
    for entry, _ in plan:  # an earlier run's file in this folder must not pass for this run's
        (out / entry["json"]).unlink(missing_ok=True)
        (out / entry["json"]).parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    deadline = start + budget - MARGIN_S
    for entry, run in plan:
        left = deadline - time.monotonic()
        if left < entry["estimate_s"]:
            entry.update(status="skipped", reason=f"not started: {max(left, 0):.0f} s of the stage's {budget:.0f} s "
                                                  f"budget left, its planning estimate is {entry['estimate_s']:.0f} s")
            print(f"-- [{time.monotonic() - start:6.1f} s] {stage} {entry['name']}: {entry['reason']}", flush=True)
            write_json(path, index)
            continue
        print(f"-- [{time.monotonic() - start:6.1f} s] {stage} {entry['name']}: {entry['command']}", flush=True)
        entry["status"] = "running"  # what the index says if the stage is killed now
        write_json(path, index)
        began = time.monotonic()
        entry.update(_outcome(run, out / entry["json"]))
        entry["seconds"] = round(time.monotonic() - began, 2)
        write_json(path, index)
        print(f"   {entry['status']} in {entry['seconds']:.1f} s" + (f": {entry['reason']}" if entry["reason"] else ""),
              flush=True)
    index["finished"] = now()
    write_json(path, index)
    statuses = {entry["status"] for entry in index["items"]}
    return 1 if "failed" in statuses else 3 if "skipped" in statuses else 0


def _outcome(run: Callable[[], int], json_path: Path) -> dict:
    try:
        code = run()
    except (Exception, SystemExit) as exc:  # SystemExit: a tool's argument error
        traceback.print_exc()
        return {"status": "failed", "reason": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
                if str(exc).strip() else type(exc).__name__}
    finally:
        _free_memory()
    if code != 0:
        return {"status": "failed", "reason": f"exit status {code}"}
    if not json_path.is_file():
        return {"status": "failed", "reason": f"exit status 0 but no {json_path.name} written"}
    return {"status": "ok", "reason": None}


def _free_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_eval_script(name: str):
    """An eval/ script as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "eval" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# preflight: device, versions, what is importable
# --------------------------------------------------------------------------------------------


def preflight(args: argparse.Namespace) -> int:
    import torch

    from na_accel.commands.bench import device_info, versions

    device = torch.device("cpu" if args.smoke else "cuda")
    problems = []
    if not args.smoke and not torch.cuda.is_available():
        problems.append("no CUDA GPU visible (torch.cuda.is_available() is False); on a CPU run "
                        "eval/gpu_suite.sh --smoke")
    found = versions()
    if found["natten"] is None:
        problems.append("natten is not importable: na_accel's backend registry needs it (pip install natten)")
    if found["triton"] is None:
        problems.append("triton is not importable: the numerics stage checks na_accel's triton kernel")
    info = device_info(device) if device.type == "cpu" or torch.cuda.is_available() else {"type": "cuda", "name": None}
    if device.type == "cuda" and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        info.update(memory_bytes=properties.total_memory, capability=f"{properties.major}.{properties.minor}",
                    driver=_nvidia_driver())
    suite = _load(args.out / "suite.json")
    suite.update(
        mode="smoke" if args.smoke else "gpu", started=now(), command=args.command, device=info, versions=found,
        git_commit=_git_commit(),
        env={k: os.environ.get(k) for k in ("TRITON_INTERPRET", "TRITON_CACHE_AUTOTUNING", "CUDA_VISIBLE_DEVICES")},
        notes=[] if found["diffusers"] else ["diffusers is not importable: the steps stage cannot build models "
                                             "(pip install diffusers accelerate)"],
        preflight_problems=problems,
    )
    suite.setdefault("stages", {})
    write_json(args.out / "suite.json", suite)
    print(f"device: {info.get('name')} ({device.type}); versions: "
          + ", ".join(f"{k} {v}" for k, v in found.items()))
    for line in problems + suite["notes"]:
        print(f"preflight: {line}", file=sys.stderr)
    return 2 if problems else 0


def _nvidia_driver() -> str | None:
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip().splitlines()[0] if result.returncode == 0 and result.stdout.strip() else None


def _git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------------------------
# numerics: the triton kernel vs the float32 reference, per dtype
# --------------------------------------------------------------------------------------------


def numerics(args: argparse.Namespace) -> int:
    env = {}
    if not args.smoke:
        # One launch config per shape: numerics don't need the autotuner's ~6 compiles per shape.
        env["NA_ACCEL_TRITON_AUTOTUNE"] = os.environ.setdefault("NA_ACCEL_TRITON_AUTOTUNE", "0")
    verify = load_eval_script("verify_backend")  # after the environment: the kernel reads it at import
    device, head_dim = ("cpu", "16") if args.smoke else ("cuda", "128")
    # Under the interpreter (~5 ms of Python per program and key block) two small cases: 2-D with
    # text and batch 2, and causal.
    cases = ["--cases", "0,5"] if args.smoke else []
    plan = []
    for dtype in DTYPES:
        path = f"numerics/verify-triton-{dtype}.json"
        argv = ["--backend", "triton", "--device", device, "--dtype", dtype, "--head-dim", head_dim, *cases,
                "--json", str(args.out / path)]
        plan.append((item(dtype, "python eval/verify_backend.py", argv, path, 5 if args.smoke else NUMERICS_DTYPE_S,
                          dtype=dtype, backend="triton", device=device),
                     lambda argv=argv: verify.main(argv)))
    return run_items(args.out, "numerics", args.budget, args.smoke, plan, env=env)


# --------------------------------------------------------------------------------------------
# attention: the joint attention alone, dense vs GNA
# --------------------------------------------------------------------------------------------


def attention(args: argparse.Namespace) -> int:
    bench = load_eval_script("attention_bench")
    plan = []
    for name, case_argv, case in (_smoke_attention_cases(bench) if args.smoke else _gpu_attention_cases(bench)):
        path = f"attention/{name}.json"
        argv = [*case_argv, *(SMOKE_ATTENTION_ARGS if args.smoke else GPU_ATTENTION_ARGS), "--json",
                str(args.out / path)]
        estimate = 2.0 if args.smoke else attention_estimate_s(case)
        plan.append((item(name, "python eval/attention_bench.py", argv, path, estimate, case=name),
                     lambda argv=argv: bench.main(argv)))
    return run_items(args.out, "attention", args.budget, args.smoke, plan)


def attention_estimate_s(case) -> float:
    """First call of a new tile shape, then warm-ups and repeats of cuDNN and flash (~3x cuDNN's time;
    the GNA calls are a fraction of that)."""
    tokens = math.prod(case.grid) + case.text_len
    cudnn_s = 4.0 * tokens * tokens * case.heads * case.head_dim / CUDNN_FLOPS
    return GPU_FIRST_CALL_S + (ATTENTION_WARMUP + ATTENTION_REPEATS) * 3.0 * cudnn_s


def _gpu_attention_cases(bench) -> list[tuple[str, list[str], Any]]:
    everything = bench.CASE_GROUPS["all"]
    order = [*ATTENTION_FIRST, *(name for name in everything if name not in ATTENTION_FIRST)]
    return [(name, ["--case", name],
             bench.published_case(name) if name in bench.CASES else bench.family_case(*bench.FAMILY_CASES[name],
                                                                                      name=name))
            for name in order]


def _smoke_attention_cases(bench) -> list[tuple[str, list[str], Any]]:
    """Every family at a small size (32x32 image tokens, 5x16x16 video tokens), 8 text tokens where
    the family has text: the family-case code path, at a size the reference computes in a blink."""
    from na_accel.families.registry import FAMILY_SPECS

    cases = []
    for spec in FAMILY_SPECS:
        geometry, step = spec.geometry, spec.geometry.pixels_per_token
        side = 16 if geometry.is_video else 32
        argv = ["--case", "family", "--family", spec.name, "--height", str(side * step), "--width", str(side * step)]
        if geometry.is_video:
            argv += ["--frames", str(4 * geometry.frames_per_token + 1)]
        if spec.text_in_self_attention:
            argv += ["--text-len", "8"]
        cases.append((f"{spec.name}-small", argv, None))
    return cases


# --------------------------------------------------------------------------------------------
# steps: one denoising step, dense vs patched
# --------------------------------------------------------------------------------------------


def steps(args: argparse.Namespace) -> int:
    rows = smoke_step_rows() if args.smoke else NEW_FAMILY_STEP_ROWS if args.rows == "new" else GPU_STEP_ROWS
    missing = None if importlib.util.find_spec("diffusers") else \
        "diffusers is not installed: the step benchmarks build diffusers transformers"
    from na_accel.cli import main as na_accel_main

    plan = []
    for row in rows:
        entry, argv = step_item(row, args.out, args.smoke)
        run = (lambda argv=argv: na_accel_main(argv)) if missing is None else _fail(missing)
        plan.append((entry, run))
    return run_items(args.out, "steps", args.budget, args.smoke, plan)


def _fail(reason: str) -> Callable[[], int]:
    def run() -> int:
        raise RuntimeError(reason)

    return run


def smoke_step_rows() -> list[StepRow]:
    """Every family's tiny preset at its own size, videos with 5 frames where the preset takes 5 (their
    VAEs dominate a CPU run; the windows stay sparse along the width), else the preset's own frames
    (MiniMax-H3's pipeline makes at least 121)."""
    from na_accel.families.registry import FAMILY_SPECS
    from na_accel.models.zoo import MODELS

    def frames(spec) -> int | None:
        if not spec.geometry.is_video:
            return None
        preset = step_model(spec.name, smoke=True)
        if (5 - 1) % MODELS[preset].geometry.frames_per_token == 0:
            return 5
        from na_accel.tiny import TINY_PIPELINES

        return TINY_PIPELINES[preset][1]()["num_frames"]

    return [StepRow(spec.name, frames=frames(spec), estimate_s=5) for spec in FAMILY_SPECS]


def step_model(family: str, smoke: bool) -> str:
    """The zoo's model for a family: its tiny preset (smoke) or its random-weights config."""
    from na_accel.families.registry import family_spec
    from na_accel.models.zoo import MODELS

    spec = family_spec(family)
    for name, model in MODELS.items():
        if model.family == family and (
            (smoke and model.config_file is None and not model.single_frame and not model.unavailable)
            or (not smoke and model.config_file == spec.config_file)
        ):
            return name
    raise LookupError(f"no {'tiny preset' if smoke else 'random-weights config'} for family {family!r} in the zoo")


def step_item(row: StepRow, out: Path, smoke: bool) -> tuple[dict, list[str]]:
    from na_accel.families.registry import family_spec

    spec = family_spec(row.family)
    model = step_model(row.family, smoke)
    geometry = spec.geometry
    height, width, frames = row.height, row.width, row.frames
    if not smoke:  # random-weights models run at the family's defaults: say which
        height, width = height or geometry.default_height, width or geometry.default_width
        frames = frames or geometry.default_frames
    if height is None:
        size = "preset size" + (f", {frames} frames" if frames else "")
    else:
        size = f"{height}x{width}" + (f"x{frames}" if frames else "")
    name = f"{model}-" + size.replace(", ", "-").replace(" ", "-")
    recipe, recipe_note = sparse_recipe(row.family, out)
    layers = layer_plan(row.family, row.layers) if not smoke else {
        "overrides": {}, "attention_layers": None, "attention_layers_full": None, "share": 1.0}
    argv = ["bench", model, "--recipe", recipe, "--steps", "1", "--repeats", str(row.repeats), "--no-progress"]
    if smoke:  # the reference backend: flex-fna's first call per shape takes seconds on a CPU
        argv += ["--device", "cpu", "--dtype", "float32", "--warmup", "0", "--backend", "reference"]
    else:
        argv += ["--random-weights", "--device", "cuda", "--dtype", "bfloat16", "--warmup", "1", "--backend", "auto"]
    for flag, value in (("--height", height), ("--width", width), ("--frames", frames)):
        if value is not None:
            argv += [flag, str(value)]
    for key, value in layers["overrides"].items():
        argv += ["--config-override", f"{key}={value}"]
    path = f"steps/bench-{name}.json"
    argv += ["--json", str(out / path)]
    entry = item(name, "na-accel", argv, path, row.estimate_s, model=model, family=row.family, size=size,
                 recipe=Path(recipe).stem if recipe.endswith(".json") else recipe, recipe_note=recipe_note,
                 layers=layers)
    return entry, argv


def sparse_recipe(family: str, out: Path) -> tuple[str, str | None]:
    """The family's shipped recipe, or a copy of it whose first steps are not dense: the bench times
    one step, which a recipe with ``dense_steps`` > 0 would run dense (nothing to compare)."""
    from na_accel.families.registry import family_spec
    from na_accel.recipe import load_recipe

    shipped = load_recipe(family_spec(family).recipe)
    if shipped.dense_step_count(1) == 0:
        return shipped.name, None
    data = shipped.to_dict()
    data.update(dense_steps=0, name=f"{shipped.name}_all_sparse")
    if "dense_final_steps" in data:
        data["dense_final_steps"] = 0
    path = out / "recipes" / f"{data['name']}.json"
    write_json(path, data)
    return str(path), (f"{shipped.name} with dense_steps 0 (shipped: {shipped.dense_steps}): the one timed step "
                       "runs sparse")


def layer_plan(family: str, share: float) -> dict:
    """Config overrides keeping ``share`` of each layer-count key (at least 1), and the attention
    layers that leaves, e.g. HunyuanVideo at 0.2: num_layers 20 -> 4, num_single_layers 40 -> 8."""
    from na_accel.families.registry import family_spec
    from na_accel.families.family_types import is_int

    spec = family_spec(family)
    config = spec.shipped_config()["config"]
    full = len(spec.layer_names(config))
    overrides = {}
    if share < 1:
        for key, value in config.items():
            # a layer-count key is one that changes the attention layers GNA patches (not a text refiner's)
            if is_int(value) and key.startswith("num_") and key.endswith("layers") and \
                    len(spec.layer_names({**config, key: value + 1})) != full:
                overrides[key] = max(1, int(value * share + 0.5))
    return {"overrides": overrides, "attention_layers": len(spec.layer_names({**config, **overrides})),
            "attention_layers_full": full, "share": share}


# --------------------------------------------------------------------------------------------
# record: a stage's outcome, as the shell saw it
# --------------------------------------------------------------------------------------------

EXIT_STATUS = {0: "ok", 1: "failed", 2: "failed", 3: "partial", 124: "timed out", 137: "timed out"}


def record(args: argparse.Namespace) -> int:
    suite = _load(args.out / "suite.json")
    status = args.status or EXIT_STATUS.get(args.exit_code, "failed")
    if status == "skipped":  # an earlier run's index must not pass for this run's results
        (args.out / f"{args.stage}.json").unlink(missing_ok=True)
    suite.setdefault("stages", {})[args.stage] = {
        "status": status, "exit_code": args.exit_code, "seconds": args.seconds, "budget_s": args.budget,
        "reason": args.reason, "log": f"logs/{args.stage}.log", "finished": now(),
    }
    write_json(args.out / "suite.json", suite)
    return 0


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command_name", required=True)
    for name in ("preflight", *STAGES, "record"):
        sub = commands.add_parser(name)
        sub.add_argument("--out", type=Path, required=True, help="the suite's output folder")
        if name in STAGES:
            sub.add_argument("--budget", type=_seconds, required=True, help="seconds this stage may take")
        if name != "record":
            sub.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: the suite end to end")
    commands.choices["preflight"].add_argument("--command", default=None, help="the suite's command line")
    commands.choices["steps"].add_argument("--rows", choices=["measured", "new"], default="measured",
                                           help="the 8-minute plan's rows, or the newer families' (a run of its own)")
    rec = commands.choices["record"]
    rec.add_argument("--stage", required=True, choices=["preflight", *STAGES, "profile", "table"])
    rec.add_argument("--exit-code", type=int, required=True)
    rec.add_argument("--seconds", type=float, required=True)
    rec.add_argument("--budget", type=float, required=True)
    rec.add_argument("--status", choices=["skipped"], default=None, help="a stage that was not started")
    rec.add_argument("--reason", default=None)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return {"preflight": preflight, "numerics": numerics, "attention": attention, "steps": steps,
            "record": record}[args.command_name](args)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: seconds > 0")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
