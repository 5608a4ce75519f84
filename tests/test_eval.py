"""eval/verify_backend.py runs from a checkout and reports NATTEN vs reference errors."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "eval" / "verify_backend.py"


@pytest.fixture
def verify_backend():
    spec = importlib.util.spec_from_file_location("verify_backend", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verify_backend_on_cpu(verify_backend, tmp_path, monkeypatch):
    monkeypatch.setattr(verify_backend, "CASES", [verify_backend.CASES[0], verify_backend.CASES[-2]])
    out = tmp_path / "result.json"
    assert verify_backend.main(["--head-dim", "16", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["dtype"] == "float32" and len(report["cases"]) == 2
    for case in report["cases"]:
        assert case["ok"] and case["backend"] == "flex-fna" and case["max_abs_error"] <= 1e-5
        assert 0 < case["density"] < 1


def test_verify_backend_fails_when_the_backend_is_off(verify_backend, monkeypatch):
    """An error of 1e-3 in the NATTEN path must be caught (exit status 1)."""
    attention = verify_backend.gna_joint_attention

    def skewed(q, k, v, *, backend, **common):
        out = attention(q, k, v, backend=backend, **common)
        return out if backend == "reference" else out + 1e-3

    monkeypatch.setattr(verify_backend, "CASES", [verify_backend.CASES[0]])
    monkeypatch.setattr(verify_backend, "gna_joint_attention", skewed)
    assert verify_backend.main(["--head-dim", "16"]) == 1
