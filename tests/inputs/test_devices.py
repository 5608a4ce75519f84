"""na_accel.inputs.devices: torch dtypes and devices from the names users type."""

import pytest
import torch

from na_accel.errors import ArgumentError
from na_accel.inputs.devices import DTYPES, parse_device, parse_dtype


@pytest.mark.parametrize("name,dtype", [("float32", torch.float32), ("float16", torch.float16),
                                        ("bfloat16", torch.bfloat16)])
def test_dtype_names(name, dtype):
    assert parse_dtype(name) is dtype


@pytest.mark.parametrize("name", ["float64", "fp16", "torch.float16", ""])
def test_other_dtype_names_are_refused_with_the_allowed_ones(name):
    with pytest.raises(ArgumentError) as info:
        parse_dtype(name)
    assert str(info.value) == f"--dtype: {name!r} is not supported; allowed: {list(DTYPES)}"


@pytest.mark.parametrize("cuda", [True, False])
def test_auto_is_cuda_when_one_is_visible_else_the_cpu(cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert parse_device("auto") == torch.device("cuda" if cuda else "cpu")


def test_device_names(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert parse_device("cpu") == torch.device("cpu")
    assert parse_device("cuda:1") == torch.device("cuda", 1)


def test_a_cuda_device_without_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ArgumentError, match="--device: 'cuda:1' asked for, but no CUDA device is visible; use --device cpu"):
        parse_device("cuda:1")


@pytest.mark.parametrize("name", ["tpu", "cuda:x", ""])
def test_a_name_that_is_no_torch_device_is_refused(name):
    with pytest.raises(ArgumentError, match=f"--device: {name!r} is not a torch device; allowed e.g. cpu, cuda, cuda:1"):
        parse_device(name)
