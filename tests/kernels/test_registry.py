"""The backend registry: every backend explains itself; auto picks the best that can run, and on a
GPU never the unfused flex-fna. Parametrized over the registry, so a new backend is covered."""

from pathlib import Path

import pytest
import torch

import na_accel
from na_accel.kernels import AUTO, BACKENDS, NATTEN_BACKENDS, REFERENCE, Backend, BackendTarget, auto_order, backend_reasons, check_backend_name, faster_unavailable, registry, resolve_backend

BACKENDS_DOC = Path(__file__).resolve().parents[2] / "docs" / "backends.md"

CPU_FP32 = BackendTarget(torch.device("cpu"), torch.float32, head_dim=16, grid_rank=2)
CUDA_BF16 = BackendTarget(torch.device("cuda"), torch.bfloat16, head_dim=128, grid_rank=2)


def test_auto_on_cpu_is_flex():
    assert resolve_backend("auto", CPU_FP32).name == "flex-fna"


def test_reference_always_resolves():
    odd = BackendTarget(torch.device("cpu"), torch.float32, head_dim=24, grid_rank=3)
    assert resolve_backend("reference", odd).name == "reference"


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_is_a_named_backend_that_explains_itself(name):
    backend = BACKENDS[name]
    assert isinstance(backend, Backend) and backend.name == name
    reason = backend.unavailable_reason(CPU_FP32)
    assert reason is None or (isinstance(reason, str) and reason and "\n" not in reason)


def test_reasons_cover_every_backend():
    reasons = backend_reasons(CPU_FP32)
    assert set(reasons) == set(BACKENDS) == {"reference", "triton", *NATTEN_BACKENDS}
    assert reasons["flex-fna"] is None
    assert "libnatten" in reasons["hopper-fna"]


def test_unavailable_backend_lists_every_backend_and_why():
    with pytest.raises(na_accel.BackendUnavailableError) as info:
        resolve_backend("hopper-fna", CPU_FP32)
    message = str(info.value)
    assert "'hopper-fna' cannot run for device=cpu, dtype=float32, head_dim=16" in message
    for name in BACKENDS:
        assert f"  {name}: " in message
    assert isinstance(info.value, RuntimeError)


def test_auto_fails_with_reasons_when_nothing_can_run():
    odd_head_dim = BackendTarget(torch.device("cpu"), torch.float32, head_dim=24, grid_rank=2)
    with pytest.raises(na_accel.BackendUnavailableError, match="powers of two, got 24"):
        resolve_backend("auto", odd_head_dim)


def test_unknown_backend_name():
    with pytest.raises(na_accel.ArgumentError, match="unknown backend 'cudnn'.*allowed"):
        resolve_backend("cudnn", CPU_FP32)


def test_auto_order_on_a_gpu_prefers_fused_kernels_and_never_flex():
    assert auto_order(CUDA_BF16) == ("blackwell-fna", "hopper-fna", "triton", "cutlass-fna")
    assert "flex-fna" not in auto_order(CUDA_BF16)


def _fake_reasons(available):
    return lambda target: {name: None if name in available else f"{name} is not here" for name in BACKENDS}


@pytest.mark.parametrize("available,expected", [
    ({"triton", "cutlass-fna", "flex-fna", "reference"}, "triton"),
    ({"hopper-fna", "triton", "flex-fna", "reference"}, "hopper-fna"),
    ({"cutlass-fna", "flex-fna", "reference"}, "cutlass-fna"),
])
def test_auto_on_a_gpu_takes_the_first_available(monkeypatch, available, expected):
    monkeypatch.setattr(registry, "backend_reasons", _fake_reasons(available))
    assert resolve_backend(AUTO, CUDA_BF16).name == expected


def test_auto_on_a_gpu_refuses_unfused_flex(monkeypatch):
    """Only flex-fna (and the reference) can run: auto raises instead of picking a path that runs
    out of memory at real sizes, and says how to ask for flex-fna anyway."""
    monkeypatch.setattr(registry, "backend_reasons", _fake_reasons({"flex-fna", "reference"}))
    with pytest.raises(na_accel.BackendUnavailableError, match="never the unfused flex-fna") as info:
        resolve_backend(AUTO, CUDA_BF16)
    assert "backend='flex-fna'" in str(info.value)
    assert resolve_backend("flex-fna", CUDA_BF16).name == "flex-fna"  # by name it is allowed


def test_faster_unavailable_names_the_backends_passed_over(monkeypatch):
    for name in ("blackwell-fna", "hopper-fna"):
        monkeypatch.setattr(BACKENDS[name], "unavailable_reason", lambda target, name=name: f"no {name} here")
    assert faster_unavailable("triton", CUDA_BF16) == {"blackwell-fna": "no blackwell-fna here",
                                                      "hopper-fna": "no hopper-fna here"}
    assert faster_unavailable("flex-fna", CPU_FP32) == {}


def test_auto_order_is_the_documented_one():
    """Derived from the registrations, it matches what the registry's docstring and the backends page say."""
    gpu, elsewhere = auto_order(CUDA_BF16), auto_order(BackendTarget(torch.device("mps"), torch.float16, 64, 2))
    assert gpu == ("blackwell-fna", "hopper-fna", "triton", "cutlass-fna")
    assert elsewhere == auto_order(CPU_FP32) == ("flex-fna",)
    assert REFERENCE not in gpu + elsewhere
    assert " > ".join(gpu) in registry.__doc__
    assert " > ".join(f"`{name}`" for name in gpu) + ", the first that can run; elsewhere `flex-fna`" in BACKENDS_DOC.read_text()


class _Fake(Backend):
    def __init__(self, name):
        self.name = name

    def unavailable_reason(self, target):
        return None

    def visual_attention(self, query, key, value, call):
        return query


def test_a_registered_backend_is_tried_at_its_rank(scratch_registry, monkeypatch):
    scratch_registry.register_backend(_Fake("fake-fast"), auto_gpu_rank=15)
    scratch_registry.register_backend(_Fake("fake-slow"), auto_gpu_rank=99, auto_on_other_devices=True)
    assert auto_order(CUDA_BF16) == ("blackwell-fna", "fake-fast", "hopper-fna", "triton", "cutlass-fna", "fake-slow")
    assert auto_order(CPU_FP32) == ("flex-fna", "fake-slow")
    check_backend_name("fake-fast")  # known by name too

    available = {"fake-fast", "cutlass-fna", "fake-slow"}
    monkeypatch.setattr(registry, "backend_reasons", lambda target: {
        name: None if name in available else f"{name} is not here" for name in scratch_registry.BACKENDS})
    for expected in ("fake-fast", "cutlass-fna", "fake-slow"):
        assert resolve_backend(AUTO, CUDA_BF16).name == expected
        available.remove(expected)


def test_a_duplicate_name_or_auto_rank_is_refused_naming_it(scratch_registry):
    with pytest.raises(na_accel.ArgumentError, match="backend: 'triton' is already registered"):
        scratch_registry.register_backend(_Fake("triton"))
    with pytest.raises(na_accel.ArgumentError, match="'fake' asks for auto_gpu_rank 30, which 'triton' has"):
        scratch_registry.register_backend(_Fake("fake"), auto_gpu_rank=30)
    with pytest.raises(na_accel.ArgumentError, match="'auto' cannot name a backend"):
        scratch_registry.register_backend(_Fake(AUTO))
    assert "fake" not in scratch_registry.BACKENDS and auto_order(CUDA_BF16) == registry.auto_order(CUDA_BF16)
    assert set(scratch_registry.BACKENDS) == set(BACKENDS)


def test_a_backend_must_implement_visual_attention():
    class NoAttention(Backend):
        def unavailable_reason(self, target):
            return None

    with pytest.raises(TypeError, match="visual_attention"):
        NoAttention()
    with pytest.raises(TypeError, match="unavailable_reason"):
        Backend()
    assert _Fake("fake").name == "fake"  # with both methods it instantiates
