#!/usr/bin/env bash
# Prepare the GPU run (eval/gpu_run.sh): run HERE, on a CPU machine that reaches the package registry,
# from anywhere in the checkout, before the one device call:
#
#   bash eval/gpu_prepare.sh                 # fills .whl/ (git-ignored), checks it, prints the sizes
#   bash eval/gpu_prepare.sh --offline       # no registry: the baseline export and the checks only
#
# then   run(command="bash eval/gpu_run.sh", carry=[".whl"], timeout_s=600)
#
# .whl/ holds what the GPU machine (Python 3.12, torch, triton, transformers, accelerate, ... but no
# network) lacks, and the A/B's baseline:
#   diffusers-0.42.1-py3-none-any.whl          pip download, pure Python
#   google_re2-1.1.20251105-...-cp312-...whl   pip download for CPython 3.12, manylinux x86-64
#   natten-0.21.7-py3-none-any.whl             built here without CUDA: pure Python (its flex-fna backend)
#   ab-2026-11-23/na_accel/                    the package at commit 41aea4a, the kernel BENCHMARKS.md
#                                              measured on 2026-11-23 (git archive), SOURCE says which
# and checks that the baseline runs a joint GNA attention call through the API it has
# (na_accel.attention.gna_joint_attention, na_accel.recipe.WindowSpec: not today's), on this CPU
# under Triton's interpreter, against its reference backend.
# The working tree (tracked + untracked files git does not ignore) and .whl/ travel together: their
# sum must stay under --limit-mib (default 48 MiB; the device tool's limit is 64 MiB).
#
# Options:
#   --offline        no download or build: keep the wheels already in DEST (the export and checks run)
#   --dest DIR       where to put it all (default: .whl in the checkout; inside the checkout git must
#                    ignore it; a relative DIR is taken from where the command runs)
#   --limit-mib N    fail when tree + DEST pass N MiB (default 48)
# Exit status: 0 ready; 1 a step failed (the message says which); 2 bad arguments.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER="$PWD"
cd "$ROOT"
BASELINE_COMMIT=41aea4a
BASELINE_NAME=ab-2026-11-23
WHEELS=(diffusers==0.42.1 google-re2==1.1.20251105)
NATTEN=natten==0.21.7
PY="${PYTHON:-python3}"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
fail() { echo "gpu_prepare.sh: $*" >&2; exit 1; }
bad_usage() { echo "gpu_prepare.sh: $*" >&2; exit 2; }

DEST="$ROOT/.whl" OFFLINE=0 LIMIT_MIB=48
while [[ $# -gt 0 ]]; do
    case "$1" in
        --offline) OFFLINE=1; shift ;;
        --dest) [[ $# -ge 2 && -n "$2" ]] || bad_usage "--dest needs a folder"
            [[ "$2" == /* ]] && DEST="$2" || DEST="$CALLER/$2"; shift 2 ;;
        --limit-mib) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] \
            || bad_usage "--limit-mib: '${2:-}' is not allowed; allowed: a whole number of MiB > 0"
            LIMIT_MIB="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) bad_usage "unknown argument '$1'; allowed: --offline, --dest DIR, --limit-mib N" ;;
    esac
done
say() { printf '== %s\n' "$*"; }

# 0. DEST must not travel as part of the tree (carry sends it) nor be committed: git must ignore it.
mkdir -p "$DEST" || fail "cannot create '$DEST'"
DEST="$(cd "$DEST" && pwd)"
case "$DEST/" in
    "$ROOT"/*)
        git check-ignore -q "$DEST/probe.whl" \
            || fail "$DEST is inside the checkout but git does not ignore it: add it to .gitignore (/.whl/ is there)" ;;
esac

# 1. wheels for the GPU machine's Python 3.12 (nothing it already has)
if [[ $OFFLINE -eq 0 ]]; then
    say "wheels -> $DEST"
    rm -f "$DEST"/*.whl
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$DEST" "${WHEELS[@]}" \
        || fail "pip download ${WHEELS[*]} failed (is the registry reachable?)"
    # natten publishes an sdist: built without CUDA it is pure Python (no compiled extension)
    CUDA_VISIBLE_DEVICES= NATTEN_CUDA_ARCH= "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$DEST" "$NATTEN" \
        || fail "building the $NATTEN wheel failed (needs setuptools and torch here: --no-build-isolation)"
else
    say "offline: keeping the wheels in $DEST"
fi
shopt -s nullglob
for spec in "${WHEELS[@]}" "$NATTEN"; do
    name="${spec%%==*}" version="${spec##*==}"
    found=("$DEST/${name//-/_}-$version-"*.whl)
    if [[ ${#found[@]} -ne 1 ]]; then
        [[ $OFFLINE -eq 1 ]] && { echo "   (offline: no $spec wheel in $DEST; the GPU run needs one)"; continue; }
        fail "expected one $spec wheel in $DEST, found ${#found[@]}"
    fi
    case "$(basename "${found[0]}")" in
        natten-*-py3-none-any.whl|diffusers-*-py3-none-any.whl|google_re2-*-cp312-cp312-*manylinux*x86_64*.whl) ;;
        *) fail "$(basename "${found[0]}") will not install on CPython 3.12 x86-64 (natten must be py3-none-any)" ;;
    esac
    echo "   $(basename "${found[0]}")"
done
shopt -u nullglob

# 2. the A/B baseline: the package as it was measured on 2026-11-23
say "baseline: na_accel at $BASELINE_COMMIT -> $DEST/$BASELINE_NAME"
git rev-parse -q --verify "$BASELINE_COMMIT^{commit}" >/dev/null \
    || fail "commit $BASELINE_COMMIT is not in this clone (a shallow clone? git fetch --unshallow)"
rm -rf "${DEST:?}/$BASELINE_NAME"
mkdir -p "$DEST/$BASELINE_NAME"
git archive "$BASELINE_COMMIT" na_accel | tar -x -C "$DEST/$BASELINE_NAME"
git log -1 --format="git %H (%cd): %s" --date=iso "$BASELINE_COMMIT" > "$DEST/$BASELINE_NAME/SOURCE"
cat "$DEST/$BASELINE_NAME/SOURCE"

# 3. sizes: the tree and DEST travel together (checked before the slower API check)
say "sizes"
"$PY" - "$ROOT" "$DEST" "$LIMIT_MIB" <<'EOF'
import os, subprocess, sys

root, dest, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                        capture_output=True, check=True).stdout.split(b"\0")
files = {os.path.join(root, os.fsdecode(name)) for name in listed if name}
inside = os.path.realpath(dest).startswith(os.path.realpath(root) + os.sep)
tree = sum(os.path.getsize(f) for f in files if os.path.isfile(f) and not os.path.islink(f)
           and not (inside and os.path.realpath(f).startswith(os.path.realpath(dest) + os.sep)))
carried = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(dest) for f in names
              if not os.path.islink(os.path.join(d, f)))
mib = lambda n: f"{n / 2**20:.1f} MiB"
print(f"   {dest}: {mib(carried)} ({carried} bytes)")
print(f"   tree (tracked + untracked not ignored): {mib(tree)}; tree + {os.path.basename(dest)}: "
      f"{mib(tree + carried)} of {limit} MiB allowed")
if tree + carried > limit * 2**20:
    sys.exit(f"gpu_prepare.sh: tree + {dest} is {mib(tree + carried)}, over the {limit} MiB limit: "
             "remove large untracked files from the tree or wheels from " + dest)
EOF
# 4. the baseline runs a joint GNA attention call through its own API (the A/B calls it so)
say "baseline API check (CPU, Triton's interpreter)"
( cd /tmp && PYTHONPATH="$DEST/$BASELINE_NAME" PYTHONDONTWRITEBYTECODE=1 TRITON_INTERPRET=1 CUDA_VISIBLE_DEVICES= \
    "$PY" - "$DEST/$BASELINE_NAME" <<'EOF'
import math, os, sys
import torch
import na_accel
from na_accel.attention import gna_joint_attention  # the 2026-11-23 entry point
from na_accel.recipe import WindowSpec

where = os.path.dirname(os.path.abspath(na_accel.__file__))
assert where == os.path.join(os.path.abspath(sys.argv[1]), "na_accel"), f"imported na_accel from {where}"
grid, text = (4, 6, 8), 8
window = WindowSpec((2, 4, 4), (1, 2, 2), (1, 1, 1), (False,) * 3).resolve(grid)
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(1, math.prod(grid) + text, 2, 32, generator=g).bfloat16() for _ in range(3))
kw = dict(text_len=text, text_first=False, window=window)
out = gna_joint_attention(q, k, v, backend="triton", **kw)
ref = gna_joint_attention(q.float(), k.float(), v.float(), backend="reference", **kw)
error = ((out.float() - ref).abs().max() / ref.abs().max()).item()
assert error < 2e-2, f"the baseline's triton call differs from its reference: {error:.2e}"
print(f"   na_accel.attention.gna_joint_attention(backend='triton') ok: relative error {error:.1e}")
EOF
) || fail "the baseline at $DEST/$BASELINE_NAME cannot run a joint attention call (see above)"

say "ready: run(command=\"bash eval/gpu_run.sh\", carry=[\".whl\"], timeout_s=600)"
