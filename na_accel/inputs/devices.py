"""Torch devices and dtypes from the names users type: ``auto``, ``cpu``, ``cuda:1``, ``bfloat16``."""

from __future__ import annotations

import torch

from ..errors import ArgumentError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def parse_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ArgumentError(f"--dtype: {name!r} is not supported; allowed: {list(DTYPES)}")
    return DTYPES[name]


def parse_device(name: str) -> torch.device:
    """A torch device; ``"auto"`` is the first CUDA device when one is visible, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ArgumentError(f"--device: {name!r} is not a torch device; allowed e.g. cpu, cuda, cuda:1") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ArgumentError(f"--device: {name!r} asked for, but no CUDA device is visible; use --device cpu")
    return device
