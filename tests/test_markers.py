"""The fast subset (``-m "not slow and not integration"``, docs/testing.md) leaves out what it says:
tests/integration/ by folder (tests/conftest.py), slow tests by their marker; CI runs everything."""

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FILES = ["integration/test_readme.py", "cli/test_main_hostile.py", "cli/test_main.py", "test_layout.py"]


def _collected(marker_expression: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", marker_expression,
         *(str(TESTS / f) for f in FILES)],
        capture_output=True, text=True, timeout=300, cwd=TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_fast_subset_leaves_out_integration_and_slow_tests():
    fast = _collected("not slow and not integration")
    assert fast and not [t for t in fast if "integration/" in t or "test_main_hostile.py" in t]
    assert any("test_layout.py" in t for t in fast) and any("test_main.py" in t for t in fast)
    assert not [t for t in fast if "test_demo_runs_and_writes_a_side_by_side" in t]  # marked slow one by one


def test_integration_is_every_test_under_tests_integration():
    integration = _collected("integration")
    everything = _collected("slow or not slow")
    assert integration == [t for t in everything if t.startswith("tests/integration/")] and integration


def test_slow_selects_marked_files_and_tests():
    slow = _collected("slow")
    assert any("test_main_hostile.py" in t for t in slow)
    assert [t for t in slow if "test_main.py" in t]  # the demo runs
    assert not [t for t in slow if "test_layout.py" in t]
