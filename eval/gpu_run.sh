#!/usr/bin/env bash
# THE GPU run: na_accel's numerics, the kernel A/B and the GPU suite in ONE command on a lent H100/H200
# (Python 3.12, torch, triton, transformers, accelerate; no natten, diffusers or google-re2; no network),
# in under 590 s. Two steps, from the checkout's root:
#
#   bash eval/gpu_prepare.sh                                        # here: fills .whl/ (wheels, baseline)
#   run(command="bash eval/gpu_run.sh", carry=[".whl"], timeout_s=600)     # the device tool, once
#
#   SMOKE=1 OUT=/tmp/o bash eval/gpu_run.sh      # a CPU dry run (Triton's interpreter, tiny sizes, ~75 s)
#   SKIP_CHECKS=1 SKIP_AB=1 bash eval/gpu_run.sh # a rerun of what was cut: here only the suite
#
# Steps, most important first, each in its own process under a hard `timeout`; a step that fails or
# times out is logged and the next one runs:
#   0. the carried wheels installed (pip --no-index --target $WORK/site, on PYTHONPATH); env.txt:
#      nvidia-smi, versions, the device's shared memory per block, the kernels' source hashes
#   a. eval/gpu_checks.py, autotune off (NA_ACCEL_TRITON_AUTOTUNE=0) -> gpu-checks.json       <= 150 s
#   b. eval/ab_bench.py: this checkout's joint attention vs the 2026-11-23 kernel
#      (.whl/ab-2026-11-23) vs cuDNN SDPA, FLUX 4096^2 and HunyuanVideo, 24 x 128 bf16 -> ab.json <= 240 s
#   c. eval/gpu_suite.sh --budget-scale S, S = the time left over its 455 s plan (at most 1),
#      skipped under 110 s left -> suite.tgz (its folder: suite.json, stage JSONs, logs, tables)
#   d. pack: at most 6 files in $OUT (the device tool returns 8 at most, 16 MiB each):
#        run.log  env.txt  gpu-checks.json  ab.json  suite.tgz  run.json (each step's exit and seconds)
#
# Environment: OUT (default na_accel_outputs/gpu-run), WORK (scratch, default a new /tmp folder),
# WHL (default .whl), PYTHON (default python3), TOTAL_S (the wall budget, default 590),
# CHECKS_S / AB_S (those steps' caps), SKIP_CHECKS=1 / SKIP_AB=1 / SKIP_SUITE=1 (leave a step out),
# CHECK_CASES (gpu_checks.py --cases), SUITE_STAGES (gpu_suite.sh --stages), SMOKE=1 (the CPU dry run:
# TRITON_INTERPRET=1, every tool's --smoke; no wheel install where natten, diffusers and re2 import).
# Exit status: 0 every step that ran passed; 1 a step failed (run.json says which).
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/na_accel_outputs/gpu-run}"
mkdir -p "$OUT" || { echo "gpu_run.sh: cannot create OUT=$OUT" >&2; exit 1; }
OUT="$(cd "$OUT" && pwd)"
cd "$ROOT"

# The whole output also goes to $OUT/run.log: this script runs itself once more under tee, so the
# log is complete (tee has finished) when the command returns.
if [[ -z "${GPU_RUN_LOGGING:-}" ]]; then
    set -o pipefail
    GPU_RUN_LOGGING=1 OUT="$OUT" bash "$ROOT/eval/gpu_run.sh" "$@" 2>&1 | tee "$OUT/run.log"
    exit "${PIPESTATUS[0]}"
fi

T0=$SECONDS
SMOKE="${SMOKE:-}"
[[ "$SMOKE" == 0 ]] && SMOKE=""
TOTAL_S="${TOTAL_S:-590}"
GPU_CHECKS_S=150                         # step a's cap on the GPU (CHECKS_S overrides)
GPU_AB_S=240                             # step b's cap on the GPU (AB_S overrides)
PACK_S=15                                # the pack, run.json and the exit
SUITE_OVERHEAD_S=25                      # the suite's own records and Python starts beyond its stage budgets
SUITE_MIN_S=110
PY="${PYTHON:-python3}"
WHL="${WHL:-$ROOT/.whl}"
WORK="${WORK:-$(mktemp -d /tmp/gpu-run.XXXXXX)}"
mkdir -p "$WORK"
STEPS="$WORK/steps.tsv"
: > "$STEPS"
export PYTHONUNBUFFERED=1
if [[ -n "$SMOKE" ]]; then
    export TRITON_INTERPRET=1 CUDA_VISIBLE_DEVICES=""
    CHECKS_S="${CHECKS_S:-300}" AB_S="${AB_S:-300}"
    MODE=(--smoke)
else
    CHECKS_S="${CHECKS_S:-$GPU_CHECKS_S}" AB_S="${AB_S:-$GPU_AB_S}"
    MODE=()
    export TRITON_CACHE_AUTOTUNING=1  # the suite's attention stage reuses the A/B's autotuned configs
fi

say() { printf '\n=== [%3d s] %s\n' $((SECONDS - T0)) "$*"; }
left() { echo $((TOTAL_S - (SECONDS - T0))); }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >> "$STEPS"; }  # step rc seconds limit note

# step NAME LIMIT COMMAND...: the command under a hard timeout; its exit recorded, never fatal
step() {
    local name=$1 limit=$2 start=$SECONDS rc
    shift 2
    say "$name (at most ${limit} s): $*"
    timeout -k 10 "$limit" "$@"
    rc=$?
    case $rc in
        0) say "$name: ok in $((SECONDS - start)) s" ;;
        124|137) say "$name: TIMED OUT after ${limit} s (what it wrote is kept)" ;;
        *) say "$name: FAILED (exit $rc) in $((SECONDS - start)) s" ;;
    esac
    record "$name" "$rc" $((SECONDS - start)) "$limit" "${STEP_NOTE:-}"
    return 0
}

say "gpu run: $([[ -n "$SMOKE" ]] && echo 'CPU smoke run (Triton interpreter)' || echo 'GPU run'); OUT=$OUT WORK=$WORK"

# 0. wheels -------------------------------------------------------------------------------------------
shopt -s nullglob
WHEELS=("$WHL"/*.whl)
shopt -u nullglob
start=$SECONDS
if [[ -n "$SMOKE" ]] && "$PY" -c "import natten, diffusers, re2" 2>/dev/null; then
    say "install: skipped (smoke run; natten, diffusers and re2 import here)"
    record install skipped 0 0 "smoke: packages import"
elif [[ ${#WHEELS[@]} -eq 0 ]]; then
    say "install: NO WHEELS in $WHL: run 'bash eval/gpu_prepare.sh' on the CPU machine and carry .whl"
    record install 1 0 0 "no wheels in $WHL"
else
    say "install: ${WHEELS[*]##*/} -> $WORK/site"
    timeout -k 5 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$WORK/site" "${WHEELS[@]}"
    rc=$?
    [[ $rc -eq 0 ]] || say "install: FAILED (exit $rc): steps that need natten or diffusers will fail"
    record install "$rc" $((SECONDS - start)) 120
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi

# env.txt ---------------------------------------------------------------------------------------------
say "env.txt"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "checkout: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git here'))"
    if [[ -n "$SMOKE" ]]; then echo "mode: CPU smoke run (TRITON_INTERPRET=1)"; else echo "mode: GPU run"; fi
    echo "baseline: $(cat "$WHL/ab-2026-11-23/SOURCE" 2>/dev/null || echo "none in $WHL (bash eval/gpu_prepare.sh)")"
    echo "cpus: $(nproc)  memory: $(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')  /tmp: $(df -h /tmp | awk 'NR==2 {print $4 " free"}')"
    if command -v nvidia-smi >/dev/null; then
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,power.limit --format=csv
        timeout 20 nvidia-smi -q -d CLOCK,PERFORMANCE 2>/dev/null | grep -E 'Clocks Event Reasons|Active|Idle|Thermal|Power Cap|SM  ' | head -20
    else
        echo "nvidia-smi: not here"
    fi
    PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" timeout 60 "$PY" eval/gpu_env.py --device "$([[ -n "$SMOKE" ]] && echo cpu || echo cuda)"
    timeout 60 "$PY" -c "import natten, diffusers, re2, transformers, accelerate; print('imports ok: natten', natten.__version__, '| diffusers', diffusers.__version__, '| transformers', transformers.__version__, '| accelerate', accelerate.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# a. numerics -----------------------------------------------------------------------------------------
if [[ "${SKIP_CHECKS:-0}" != 0 ]]; then
    say "checks: skipped (SKIP_CHECKS)"; record checks skipped 0 0 SKIP_CHECKS
else
    step checks "$CHECKS_S" env NA_ACCEL_TRITON_AUTOTUNE=0 "$PY" eval/gpu_checks.py --json "$OUT/gpu-checks.json" \
        ${CHECK_CASES:+--cases "$CHECK_CASES"} "${MODE[@]}"
fi

# b. the A/B ------------------------------------------------------------------------------------------
if [[ "${SKIP_AB:-0}" != 0 ]]; then
    say "A/B: skipped (SKIP_AB)"; record ab skipped 0 0 SKIP_AB
else
    # the driver stops starting processes at --budget; the timeout is the hard stop behind it
    step ab "$AB_S" "$PY" eval/ab_bench.py --json "$OUT/ab.json" --baseline "$WHL/ab-2026-11-23" \
        --work "$WORK/ab" --budget $((AB_S - 15)) "${MODE[@]}"
fi

# c. the suite ----------------------------------------------------------------------------------------
PLAN_S=$(sed -n 's/^declare -A GPU_BUDGET=(\(.*\))/\1/p' eval/gpu_suite.sh | grep -o '=[0-9]*' | tr -d = \
    | awk '{s += $1} END {print s + 0}')
[[ "$PLAN_S" -gt 0 ]] 2>/dev/null || PLAN_S=455
SUITE_ARGS=(--out "$WORK/suite")
[[ -z "${SUITE_STAGES:-}" ]] || SUITE_ARGS+=(--stages "$SUITE_STAGES")
if [[ "${SKIP_SUITE:-0}" != 0 ]]; then
    say "suite: skipped (SKIP_SUITE)"; record suite skipped 0 0 SKIP_SUITE
elif [[ -n "$SMOKE" ]]; then
    step suite 600 env PYTHON="$PY" bash eval/gpu_suite.sh "${SUITE_ARGS[@]}" --smoke
else
    LEFT=$(( $(left) - PACK_S - SUITE_OVERHEAD_S ))
    if [[ $LEFT -lt $SUITE_MIN_S ]]; then
        say "suite: SKIPPED, ${LEFT} s left (< ${SUITE_MIN_S} s); rerun it alone: SKIP_CHECKS=1 SKIP_AB=1 bash eval/gpu_run.sh"
        record suite skipped 0 0 "only ${LEFT} s left"
    else
        SCALE=$(awk "BEGIN {s = $LEFT / $PLAN_S; if (s > 1) s = 1; printf \"%.2f\", s}")
        STEP_NOTE="--budget-scale $SCALE: ${LEFT} s left for its ${PLAN_S} s plan" \
            step suite $((LEFT + SUITE_OVERHEAD_S)) env PYTHON="$PY" bash eval/gpu_suite.sh "${SUITE_ARGS[@]}" \
            --budget-scale "$SCALE"
    fi
fi

# d. pack ---------------------------------------------------------------------------------------------
say "pack -> $OUT"
if [[ -d "$WORK/suite" ]]; then
    tar czf "$OUT/suite.tgz" -C "$WORK" suite
    if [[ $(stat -c %s "$OUT/suite.tgz") -gt $((15 * 1024 * 1024)) ]]; then  # the tool returns 16 MiB a file
        echo "suite.tgz over 15 MiB: packed again without logs/"
        tar czf "$OUT/suite.tgz" -C "$WORK" --exclude='suite/logs' suite
    fi
fi
"$PY" - "$STEPS" "$OUT/run.json" "$((SECONDS - T0))" "${SMOKE:+smoke}" <<'EOF'
import json, sys

steps_file, out, seconds, smoke = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
steps = {}
for line in open(steps_file):
    name, rc, secs, limit, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    status = "skipped" if rc == "skipped" else "ok" if rc == "0" else "timed out" if rc in ("124", "137") else "failed"
    steps[name] = {"status": status, "exit_code": None if rc == "skipped" else int(rc), "seconds": int(secs),
                   "limit_s": int(limit), **({"note": note} if note else {})}
failed = [name for name, step in steps.items() if step["status"] in ("failed", "timed out")]
json.dump({"tool": "eval/gpu_run.sh", "mode": smoke or "gpu", "seconds": seconds, "steps": steps,
           "failed": failed}, open(out, "w"), indent=1)
print("steps: " + ", ".join(f"{n} {s['status']}" for n, s in steps.items()))
sys.exit(1 if failed else 0)
EOF
STATUS=$?
FILES=$(find "$OUT" -type f | wc -l)
ls -la "$OUT"
[[ $FILES -le 6 ]] || echo "gpu_run.sh: WARNING: $FILES files in $OUT (the device tool returns 8 at most; was OUT empty?)"
say "done in $((SECONDS - T0)) s (exit $STATUS)"
exit $STATUS
