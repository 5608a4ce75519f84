"""The cost model: estimated seconds of one joint-attention call, dense (stock) and sparse (GNA).

    dense  = dense.overhead_s + dense FLOPs / dense.flops_per_s
    sparse = backend.overhead_s + full FLOPs / full_flops_per_s + partial FLOPs / partial_flops_per_s
             + dense(the text queries over every key) + backend.call_overhead_s

with the FLOPs of ``problem.sparse_work`` (exact tile counts for the backend's tiles) and the
constants of a measured ``CostProfile``. ``patch``'s speed gate, ``na-accel estimate`` and
``na-accel bench`` all ask this one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .problem import AttentionProblem, SparseWork, sparse_work
from .profiles import CostProfile


@dataclass(frozen=True)
class CostEstimate:
    problem: AttentionProblem
    backend: str
    dense_s: float
    sparse_s: float
    work: SparseWork
    profile: CostProfile

    @property
    def speedup(self) -> float:
        """Estimated dense / sparse time of the whole call (text included)."""
        return self.dense_s / self.sparse_s

    @property
    def sparse_pays(self) -> bool:
        """Sparse is estimated faster than dense by at least the profile's margin."""
        return self.sparse_s <= self.dense_s * (1.0 - self.profile.margin)

    def describe(self) -> str:
        return (f"est. {self.sparse_s * 1e3:.3g} ms sparse ({self.backend}) vs dense {self.dense_s * 1e3:.3g} ms "
                f"on {self.profile.device}")

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "dense_s": self.dense_s, "sparse_s": self.sparse_s,
                "speedup": self.speedup, "sparse_pays": self.sparse_pays, "margin": self.profile.margin,
                "work": self.work.to_dict(), "profile_device": self.profile.device,
                "profile_source": self.profile.source}


def dense_seconds(profile: CostProfile, flops: float) -> float:
    return profile.dense.overhead_s + flops / profile.dense.flops_per_s


def estimate_call(problem: AttentionProblem, backend: str, tile_backend: str | None,
                  profile: CostProfile) -> CostEstimate | None:
    """Both times of one call, or None when ``profile`` has no constants for ``backend``."""
    cost = profile.backends.get(backend)
    if cost is None:
        return None
    work = sparse_work(problem, tile_backend, profile.shared_memory, profile.capability)
    sparse = (cost.overhead_s + work.full_flops / cost.full_flops_per_s
              + work.partial_flops / cost.partial_flops_per_s + cost.call_overhead_s)
    if problem.text_len:
        sparse += dense_seconds(profile, work.text_query_flops)
    return CostEstimate(problem, backend, dense_seconds(profile, problem.dense_flops()), sparse, work, profile)


__all__ = ["CostEstimate", "dense_seconds", "estimate_call"]
