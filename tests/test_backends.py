"""Backend resolution: auto picks NATTEN's best; unavailable backends explain themselves."""

import pytest
import torch

import na_accel
from na_accel.kernels import NATTEN_BACKENDS, BackendTarget, backend_reasons, resolve_backend

CPU_FP32 = BackendTarget(torch.device("cpu"), torch.float32, head_dim=16, grid_rank=2)


def test_auto_on_cpu_is_flex():
    assert resolve_backend("auto", CPU_FP32) == "flex-fna"


def test_reference_always_resolves():
    odd = BackendTarget(torch.device("cpu"), torch.float32, head_dim=24, grid_rank=3)
    assert resolve_backend("reference", odd) == "reference"


def test_reasons_cover_every_backend():
    reasons = backend_reasons(CPU_FP32)
    assert set(reasons) == {"reference", *NATTEN_BACKENDS}
    assert reasons["flex-fna"] is None
    assert "libnatten" in reasons["hopper-fna"]


def test_unavailable_backend_lists_every_backend_and_why():
    with pytest.raises(na_accel.BackendUnavailableError) as info:
        resolve_backend("hopper-fna", CPU_FP32)
    message = str(info.value)
    assert "'hopper-fna' cannot run for device=cpu, dtype=float32, head_dim=16" in message
    for name in ("reference", *NATTEN_BACKENDS):
        assert f"  {name}: " in message
    assert isinstance(info.value, RuntimeError)


def test_auto_fails_with_reasons_when_nothing_can_run():
    odd_head_dim = BackendTarget(torch.device("cpu"), torch.float32, head_dim=24, grid_rank=2)
    with pytest.raises(na_accel.BackendUnavailableError, match="powers of two, got 24"):
        resolve_backend("auto", odd_head_dim)


def test_unknown_backend_name():
    with pytest.raises(na_accel.ArgumentError, match="unknown backend 'cudnn'.*allowed"):
        resolve_backend("cudnn", CPU_FP32)
