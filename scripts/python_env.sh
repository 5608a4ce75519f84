# Sourced by the scripts (from the project root): exports PYTHON, the interpreter that installs and
# runs na_accel. $PYTHON when set; else python3, unless python3 is a system Python that refuses pip
# installs (PEP 668 "externally managed": Debian, Ubuntu) and no virtualenv is active: then a
# project-local virtualenv in .venv, created on first use and said so.
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    if "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(0 if sys.prefix == sys.base_prefix
         and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)' 2>/dev/null; then
        if [ ! -x .venv/bin/python ]; then
            echo "==> $(command -v "$PYTHON") is managed by the system (PEP 668: no pip installs into it):"
            echo "==> creating a project-local virtualenv in .venv"
            if ! "$PYTHON" -m venv .venv; then
                echo "==> could not create .venv; install the venv module (Debian/Ubuntu: sudo apt install python3-venv)," \
                     "or activate a virtualenv of your own, then run this again" >&2
                exit 1
            fi
        fi
        echo "==> using the virtualenv in .venv (to use it yourself: source .venv/bin/activate)"
        PYTHON=$PWD/.venv/bin/python
    fi
fi
export PYTHON
