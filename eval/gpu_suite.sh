#!/usr/bin/env bash
# The GPU suite: every family measured in ONE short run on an H100/H200 (under 8 minutes), or the same
# stages end to end on a CPU with tiny sizes (--smoke, what CI runs; its timings mean nothing).
#
#   bash eval/gpu_suite.sh                      # -> eval/results/gpu-suite-<date>/
#   bash eval/gpu_suite.sh --out DIR --update BENCHMARKS.md
#   bash eval/gpu_suite.sh --smoke --out /tmp/suite
#
# Stages, most important first. Each runs in its own process under its budget (a hard stop, Python's
# start included), starts an item only while the item's planning estimate fits in what is left
# (eval/gpu_suite.py has the items and estimates), writes its JSON as each item ends, and a stage
# that fails or runs out of time is recorded and the next one runs:
#   preflight  device, versions, what is importable                              GPU  20 s
#   numerics   eval/verify_backend.py --backend triton, bf16 / fp16 / fp32        GPU  95 s
#   attention  eval/attention_bench.py: 4 published + 7 family cases             GPU 140 s
#   steps      na-accel bench --random-weights: one step dense vs patched, 10 rows GPU 180 s
#   profile    eval/fit_cost_profile.py -> DIR/cost-profile.json (the speed gate) GPU  10 s
#   table      eval/benchmarks_table.py -> DIR/BENCHMARKS-suite.md               GPU  10 s
# At most 455 s (7.6 min) in all. Needs torch, triton and natten (diffusers and accelerate for the
# steps stage); the preflight says what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAGES=(preflight numerics attention steps profile table)
ALLOWED_STAGES="$(IFS=,; echo "${STAGES[*]}")"
declare -A GPU_BUDGET=([preflight]=20 [numerics]=95 [attention]=140 [steps]=180 [profile]=10 [table]=10)
# Smoke budgets are caps for a loaded CI machine (2 cores shared with other tests); unloaded the
# smoke run takes about a minute.
declare -A SMOKE_BUDGET=([preflight]=60 [numerics]=90 [attention]=60 [steps]=180 [profile]=60 [table]=30)

usage() {
    cat <<EOF
usage: bash eval/gpu_suite.sh [--out DIR] [--smoke] [--stages LIST] [--budget-scale F] [--update FILE]

  --out DIR           output folder (default: eval/results/gpu-suite-<date>, --smoke: na_accel_outputs/gpu-suite-smoke)
  --smoke             CPU, tiny sizes and presets: the stages end to end in about a minute (timings mean nothing)
  --stages LIST       comma-separated subset of: $ALLOWED_STAGES (preflight always runs; default: all)
  --budget-scale F    multiply every stage's budget by F (a slower GPU), default 1
  --update FILE       also replace the generated section of FILE (e.g. BENCHMARKS.md) with the tables
EOF
}

fail() { echo "gpu_suite.sh: $*" >&2; exit 2; }

COMMAND="bash eval/gpu_suite.sh${*:+ $*}"  # as given, for the record
OUT="" SMOKE=0 ONLY="" SCALE=1 UPDATE=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) [[ $# -ge 2 ]] || fail "--out needs a folder"; OUT="$2"; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --stages) [[ $# -ge 2 ]] || fail "--stages needs a list"; ONLY="$2"; shift 2 ;;
        --budget-scale) [[ $# -ge 2 ]] || fail "--budget-scale needs a number"; SCALE="$2"; shift 2 ;;
        --update) [[ $# -ge 2 ]] || fail "--update needs a file"; UPDATE="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument '$1'; allowed: --out, --smoke, --stages, --budget-scale, --update" ;;
    esac
done
[[ "$SCALE" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk "BEGIN{exit !($SCALE > 0)}" \
    || fail "--budget-scale: '$SCALE' is not allowed; allowed: a number > 0, e.g. 1.5"
if [[ -n "$ONLY" ]]; then
    for stage in ${ONLY//,/ }; do
        [[ " ${STAGES[*]} " == *" $stage "* ]] || fail "--stages: '$stage' is not a stage; allowed: $ALLOWED_STAGES"
    done
fi
if [[ -z "$OUT" ]]; then
    if [[ $SMOKE -eq 1 ]]; then
        OUT="na_accel_outputs/gpu-suite-smoke"
    else
        OUT="eval/results/gpu-suite-$(date +%Y-%m-%d)"
    fi
fi
[[ ! -e "$OUT" || -d "$OUT" ]] || fail "--out: '$OUT' is a file; give a folder"
mkdir -p "$OUT/logs" || fail "--out: cannot create '$OUT'"

PY="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
MODE=()
if [[ $SMOKE -eq 1 ]]; then
    MODE=(--smoke)
    export CUDA_VISIBLE_DEVICES="" TRITON_INTERPRET=1  # the CPU, and Triton's interpreter for the kernel
else
    export TRITON_CACHE_AUTOTUNING=1  # the steps reuse the attention stage's autotuned launch configs
fi
SUITE_START=$SECONDS

budget() {  # budget STAGE -> whole seconds, scaled
    local base
    if [[ $SMOKE -eq 1 ]]; then base=${SMOKE_BUDGET[$1]}; else base=${GPU_BUDGET[$1]}; fi
    awk "BEGIN{printf \"%d\", $base * $SCALE + 0.5}"
}

say() { printf '== [%4d s] %s\n' $((SECONDS - SUITE_START)) "$*"; }

record() {  # record STAGE EXIT_CODE SECONDS BUDGET [--status skipped --reason TEXT]
    "$PY" "$ROOT/eval/gpu_suite.py" record --out "$OUT" --stage "$1" --exit-code "$2" --seconds "$3" \
        --budget "$4" "${@:5}" || echo "gpu_suite.sh: could not record stage $1" >&2
}

# run_stage STAGE COMMAND...: the command under the stage's budget (a hard stop), its output in
# logs/STAGE.log, its outcome in suite.json; never stops the suite.
run_stage() {
    local stage=$1 limit start rc
    shift
    limit=$(budget "$stage")
    start=$SECONDS
    say "stage $stage (budget ${limit} s)"
    set +e
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$OUT/logs/$stage.log"
    rc=${PIPESTATUS[0]}
    set -e
    record "$stage" "$rc" $((SECONDS - start)) "$limit"
    case $rc in
        0) say "stage $stage: ok in $((SECONDS - start)) s" ;;
        3) say "stage $stage: partial (items not started for lack of budget) in $((SECONDS - start)) s" ;;
        124|137) say "stage $stage: TIMED OUT after ${limit} s (finished items kept)" ;;
        *) say "stage $stage: FAILED (exit $rc) in $((SECONDS - start)) s; see $OUT/logs/$stage.log" ;;
    esac
    return "$rc"
}

wanted() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }

say "gpu suite -> $OUT ($([[ $SMOKE -eq 1 ]] && echo 'CPU smoke run' || echo 'GPU run'))"
FAILED=0
PREFLIGHT_OK=1
run_stage preflight "$PY" "$ROOT/eval/gpu_suite.py" preflight --out "$OUT" --command "$COMMAND" "${MODE[@]}" \
    || { FAILED=1; PREFLIGHT_OK=0; }
for stage in numerics attention steps; do
    wanted "$stage" || continue
    if [[ $PREFLIGHT_OK -eq 0 ]]; then
        record "$stage" -1 0 "$(budget "$stage")" --status skipped --reason "the preflight failed (logs/preflight.log)"
        say "stage $stage: skipped (the preflight failed)"
        continue
    fi
    # exit 3: some items were not started for lack of budget (the table says which); not a failure
    run_stage "$stage" "$PY" "$ROOT/eval/gpu_suite.py" "$stage" --out "$OUT" --budget "$(budget "$stage")" \
        "${MODE[@]}" || { [[ $? -eq 3 ]] || FAILED=1; }
done
# The cost profile of this device (na_accel/speed), fit to what the attention and steps stages
# measured; copy it into na_accel/speed/profiles/ to ship it, or point $NA_ACCEL_COST_PROFILE at it.
if wanted profile && [[ $PREFLIGHT_OK -eq 1 ]]; then
    shopt -s nullglob
    ATTENTION_JSON=("$OUT"/attention/*.json) STEPS_JSON=("$OUT"/steps/*.json)
    shopt -u nullglob
    if [[ ${#ATTENTION_JSON[@]} -eq 0 ]]; then
        record profile -1 0 "$(budget profile)" --status skipped --reason "no attention results to fit"
        say "stage profile: skipped (no attention results)"
    else
        run_stage profile "$PY" "$ROOT/eval/fit_cost_profile.py" --attention "${ATTENTION_JSON[@]}" \
            --bench "${STEPS_JSON[@]}" --output "$OUT/cost-profile.json" || FAILED=1
    fi
fi
if wanted table; then
    TABLE=("$PY" "$ROOT/eval/benchmarks_table.py" "$OUT")
    [[ -z "$UPDATE" ]] || TABLE+=(--update "$UPDATE")
    run_stage table "${TABLE[@]}" || FAILED=1
fi
say "done: $OUT (exit $FAILED)"
exit "$FAILED"
