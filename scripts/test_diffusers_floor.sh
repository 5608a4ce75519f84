#!/usr/bin/env bash
# The contract on the oldest diffusers na_accel supports (pyproject.toml: diffusers>=0.36), in an
# environment of its own: .venv-diffusers-<version>/ (git-ignored), a virtualenv that installs only
# diffusers 0.36.0, huggingface-hub < 2 (what 0.36 imports), the transformers pip resolves with it,
# ftfy (0.36's Wan pipelines clean prompts with it) and na_accel (editable, no dependencies). torch,
# NATTEN, Triton and the test tools are not downloaded again: they are read from the environment
# scripts/install.sh filled ($PYTHON, scripts/python_env.sh), listed after the virtualenv's own
# packages so that its diffusers and transformers come first (checked before the tests run).
#
# Runs tests/integration/test_contract.py on the reference and flex-fna backends (every tiny preset
# x configuration: full window == stock, small window == reference); the triton cases, the same
# attention calls under Triton's interpreter and most of the contract's time, run in the main
# suite (scripts/test.sh). Arguments pass through to pytest; NA_ACCEL_TEST_WORKERS as scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh

FLOOR=0.36.0
VENV=.venv-diffusers-$FLOOR
say() { echo "==> diffusers $FLOOR: $*"; }

if ! "$PYTHON" -c "import torch, natten, triton, pytest, xdist" 2>/dev/null; then
    say "the main environment lacks torch, natten, triton or pytest-xdist: bash scripts/install.sh first"
    bash scripts/install.sh
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV (a virtualenv over $("$PYTHON" -c 'import sys; print(sys.prefix)'))"
    "$PYTHON" -m venv "$VENV"
fi
# The main environment's package folders, after the virtualenv's own: a .pth line starting with
# "import" runs at startup; site.addsitedir appends each folder (and runs its .pth files: editable
# installs). Written from $PYTHON's sys.path, so it works whether $PYTHON is a virtualenv or not
# (venv --system-site-packages would reach only the base interpreter's packages).
"$PYTHON" - "$VENV" <<'EOF'
import pathlib, subprocess, sys
venv = pathlib.Path(sys.argv[1])
purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
folders = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and pathlib.Path(p).is_dir()]
line = "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in folders) + "\n"
(pathlib.Path(purelib) / "zz_main_environment.pth").write_text(line)
EOF

say "installing na_accel (editable, no dependencies), diffusers==$FLOOR, huggingface-hub<2, transformers, ftfy into $VENV"
# na_accel first: pip then checks the new packages against this checkout's requirements, not against
# those the main environment's copy was installed with. The main environment's packages stay as they
# are (pip installs into the virtualenv only).
"$VENV/bin/python" -m pip install -q --no-deps -e .
PYTHONUNBUFFERED=1 "$VENV/bin/python" -m pip install -q "diffusers==$FLOOR" "huggingface-hub<2" transformers ftfy

# The virtualenv's diffusers is the one imported (not the main environment's), torch is the main
# environment's (not downloaded again), and na_accel's own requirement admits this diffusers.
"$VENV/bin/python" - "$FLOOR" "$VENV" <<'EOF'
import importlib.metadata, pathlib, sys
from packaging.requirements import Requirement
import diffusers, huggingface_hub, natten, torch, transformers, triton
floor, venv = sys.argv[1], pathlib.Path(sys.argv[2]).resolve()
inside = lambda module: venv in pathlib.Path(module.__file__).resolve().parents
for module in (diffusers, transformers, huggingface_hub, torch, natten, triton):
    print(f"    {module.__name__} {module.__version__}: {'this virtualenv' if inside(module) else module.__file__}")
problems = []
if diffusers.__version__ != floor or not inside(diffusers):
    problems.append(f"diffusers {diffusers.__version__} from {diffusers.__file__}, not {floor} from {venv}")
if inside(torch):
    problems.append(f"torch was installed into {venv} again, not read from the main environment")
pin = next(Requirement(r) for r in importlib.metadata.requires("na_accel") if Requirement(r).name == "diffusers")
if not pin.specifier.contains(floor):
    problems.append(f"na_accel requires {pin}, which excludes diffusers {floor}")
if problems:
    sys.exit("==> " + "; ".join(problems))
EOF

say "the contract (tests/integration/test_contract.py) on the reference and flex-fna backends, and the seam's properties (tests/runtime/test_seam.py)"
exec "$VENV/bin/python" -m pytest -q -n "${NA_ACCEL_TEST_WORKERS:-2}" -p no:cacheprovider \
    tests/integration/test_contract.py tests/runtime/test_seam.py -k "not triton" -rfEs "$@"
