# Sourced by the scripts (from the project root): exports PYTHON, the interpreter that installs and
# runs na_accel. A user's own interpreter is never changed without being asked:
# - $PYTHON set, or python3 inside an active virtualenv / conda environment: that interpreter (the
#   user chose it); one line says so.
# - otherwise: a project-local virtualenv in .venv, created on first use with --system-site-packages
#   (an installed torch, NATTEN, Triton are reused; pip installs what is missing into .venv, never
#   into the base interpreter); one line says so.
# NA_ACCEL_PYTHON_SAID (exported) keeps a script that runs another (demo.sh -> install.sh) from
# saying it twice.
if [ -z "${PYTHON:-}" ]; then
    if python3 -c 'import os, sys
conda = os.environ.get("CONDA_PREFIX")
chosen = sys.prefix != sys.base_prefix or (conda and os.path.realpath(sys.prefix) == os.path.realpath(conda))
sys.exit(0 if chosen else 1)' 2>/dev/null; then
        PYTHON=$(python3 -c 'import sys; print(sys.executable)')
        [ -n "${NA_ACCEL_PYTHON_SAID:-}" ] ||
            echo "==> installing into and running with $PYTHON (the active environment, $(python3 -c 'import sys; print(sys.prefix)'))"
    else
        if [ ! -x .venv/bin/python ]; then
            echo "==> no virtualenv is active and PYTHON is not set: creating a project-local virtualenv in .venv over" \
                 "$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3)" \
                 "(--system-site-packages: its packages are reused; what is missing goes into .venv, never into it)"
            if ! python3 -m venv --system-site-packages .venv; then
                rm -rf .venv
                echo "==> could not create .venv; install the venv module (Debian/Ubuntu: sudo apt install python3-venv)," \
                     "or activate a virtualenv of your own, or set PYTHON=/path/to/python, then run this again" >&2
                exit 1
            fi
        fi
        PYTHON=$PWD/.venv/bin/python
        [ -n "${NA_ACCEL_PYTHON_SAID:-}" ] ||
            echo "==> installing into and running with the virtualenv in .venv (to use it yourself: source .venv/bin/activate;" \
                 "to use another interpreter: PYTHON=/path/to/python bash scripts/...)"
    fi
else
    [ -n "${NA_ACCEL_PYTHON_SAID:-}" ] || echo "==> installing into and running with $PYTHON (PYTHON is set)"
fi
NA_ACCEL_PYTHON_SAID=1
export PYTHON NA_ACCEL_PYTHON_SAID
