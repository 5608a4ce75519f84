"""Risky cases run in a child process with a time limit and a memory cap, so a hang or a memory
blow-up fails one test (with what the child printed) instead of taking the machine down.

    result = run_bounded_code("import na_accel; na_accel.estimate_recipe(...)")
    result = run_bounded_cli(["estimate", "--frames", "1000001"])
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file is tests/helpers/bounded.py)
# Address space, not resident memory: importing torch alone maps about 2 GB.
DEFAULT_MEMORY_BYTES = 6 * 2**30
DEFAULT_SECONDS = 120


def _limit_memory(memory_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return apply


def run_bounded(argv: list[str], *, seconds: float = DEFAULT_SECONDS, memory_bytes: int = DEFAULT_MEMORY_BYTES,
                cwd: str | Path | None = None, env: dict[str, str] | None = None,
                stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python argv...`` under the limits; a child that runs past ``seconds`` fails the test."""
    child_env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                 "PYTHONUNBUFFERED": "1", **(env or {})}
    try:
        return subprocess.run([sys.executable, *argv], cwd=cwd or ROOT, env=child_env, input=stdin,
                              capture_output=True, text=True, timeout=seconds,
                              preexec_fn=_limit_memory(memory_bytes))
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ran past {seconds} s (a hang?): python {' '.join(argv)}\n"
                    f"stdout: {exc.stdout!r}\nstderr: {exc.stderr!r}")


def run_bounded_code(code: str, **limits) -> subprocess.CompletedProcess:
    """Python source run under the limits."""
    return run_bounded(["-c", code], **limits)


def run_bounded_cli(args: list[str], **limits) -> subprocess.CompletedProcess:
    """``na-accel args...`` run under the limits."""
    return run_bounded(["-m", "na_accel.cli", *args], **limits)


__all__ = ["run_bounded", "run_bounded_cli", "run_bounded_code"]
