"""The estimate's time model: a recipe's rows priced by the speed gate's cost model on a measured
device profile (``na_accel.speed``), and the attention / end-to-end speedups that gives."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..kernels.tiles import dtype_bits
from ..speed.model import estimate_call
from ..speed.problem import AttentionProblem
from ..speed.profiles import CostProfile, find_profile, shipped_profiles


def cost_profile(device: str | None, dtype: str) -> tuple[CostProfile | None, str]:
    """The profile that prices the calls, and what to say about where it comes from."""
    if device is None:
        device = _this_gpu()
        if device is None:
            shipped = next((p for p in shipped_profiles() if dtype in p.dtypes), None)
            if shipped is None:
                return None, f"no shipped cost profile for {dtype}"
            return shipped, f"no GPU here: the shipped profile of {shipped.device} (--device names another)"
    profile = find_profile(device, dtype)
    if profile is None:
        return None, f"no cost profile for {device} in {dtype} (na-accel calibrate on that GPU measures one)"
    return profile, f"cost profile of {profile.device} ({profile.source})"


def _this_gpu() -> str | None:
    """This machine's CUDA device name, or None. Linux without an NVIDIA or ROCm kernel driver has
    none: no need to import torch (a second) to ask, so ``estimate`` starts at once."""
    if sys.platform.startswith("linux") and not (os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/kfd")):
        return None
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def add_cost_model(result: Any, profile: CostProfile | None, note: str, family: Any,
                    n_text: int, sparse_fraction: float, n_layers: int) -> None:
    """Per row, the cost model's seconds dense vs sparse and the speed gate's choice; overall, the
    attention and end-to-end speedups they give (dense where the gate would run stock)."""
    backend = result.backend
    if profile is None or backend not in profile.backends:
        have = ", ".join(profile.backends) if profile is not None else "none"
        result.notes.append(f"cost model: {note}; no time estimate for backend {backend} (measured constants: "
                            f"{have}; --backend triton uses na_accel's kernel's)")
        return
    result.cost_profile = note
    heads = family.hidden // family.head_dim
    relative = 0.0
    for row in result.rows:
        if row.estimate is not None:
            problem = AttentionProblem((row.estimate.window,), n_text, 1, heads, result.head_dim,
                                       dtype_bits(result.dtype) // 8)
            row.cost = estimate_call(problem, backend, backend, profile)
        kept = 1.0 if row.cost is None or not row.cost.sparse_pays else row.cost.sparse_s / row.cost.dense_s
        relative += len(row.layers) * kept
    attention_time = (1 - sparse_fraction) + sparse_fraction * relative / n_layers
    result.modelled_attention_speedup = 1.0 / attention_time
    result.modelled_end_to_end = 1.0 / ((1.0 - result.attention_share) + result.attention_share * attention_time)


__all__ = ["add_cost_model", "cost_profile"]
