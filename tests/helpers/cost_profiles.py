"""Cost profiles for the speed tests: a CPU profile whose constants make sparse win or lose."""

from __future__ import annotations

from na_accel.speed import profiles


def cpu_profile(sparse_rate: float, dense_rate: float = 1e9, **extra) -> dict:
    """A profile for the CPU in float32: the reference backend at ``sparse_rate`` FLOP/s against
    dense attention at ``dense_rate``; no overheads unless given."""
    return {
        "format": profiles.PROFILE_FORMAT, "device": "cpu", "matches": ["cpu"], "dtypes": ["float32"],
        "dense": {"kernel": "sdpa", "overhead_s": 0.0, "flops_per_s": dense_rate},
        "backends": {"reference": {"overhead_s": 0.0, "full_flops_per_s": sparse_rate,
                                   "partial_flops_per_s": sparse_rate}},
        **extra,
    }
