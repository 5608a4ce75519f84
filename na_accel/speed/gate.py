"""The speed gate: a patched layer runs GNA only where GNA pays on the device it runs on.

Per call shape (grids, windows, text, batch, backend, device, dtype; decided once, then cached),
the cost model (``na_accel.speed.model``) estimates the joint attention dense and sparse with the
device's measured ``CostProfile``; where sparse is not estimated faster by the profile's margin,
the layer runs its stock processor, counted with the reason ("dense: sparse would not pay ...").

A recipe's ``speed_gate`` says how: ``auto`` (this gate), ``sparse`` (always the recipe's windows:
quality checks of the sparse path, or a device the model gets wrong) or ``dense`` (never sparse:
the stock baseline under the same recipe). Where no profile applies (a device or dtype never
measured, a backend the profile lacks: the reference, CPUs), ``auto`` runs what the recipe says
and ``describe`` says that no estimate was made; ``na-accel calibrate`` measures a profile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence

import torch

from ..kernels import dtype_name
from ..recipe.checks import SPEED_GATES as POLICIES
from ..windows import ResolvedWindow
from .model import CostEstimate, estimate_call
from .problem import AttentionProblem
from .profiles import CostProfile, find_profile

AUTO, SPARSE, DENSE = POLICIES


@dataclass(frozen=True)
class GateDecision:
    sparse: bool  # run GNA (else the stock processor)
    reason: str | None = None  # why dense (counted), None when sparse
    estimate: CostEstimate | None = None
    note: str | None = None  # why no estimate was made (no profile applies)


def device_name(device: torch.device) -> str:
    """The name profiles match: the CUDA device's name, else the device type."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def call_shape_text(windows: Sequence[ResolvedWindow], text_len: int) -> str:
    grids = " + ".join("x".join(map(str, w.grid)) for w in windows)
    return f"grid {grids}" + (f" + {text_len} text" if text_len else "")


class SpeedGate:
    """One patched transformer's gate: its policy, the attention heads, the decisions made."""

    def __init__(self, policy: str, heads: int) -> None:
        self.policy = policy
        self.heads = heads
        self.decisions: dict[tuple, GateDecision] = {}  # per call shape, with its estimate
        self._profiles: dict[tuple[str, str], tuple[str, CostProfile | None]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # a copy decides again (it may run on another device)
        return {"policy": self.policy, "heads": self.heads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["policy"], state["heads"])

    def decide(self, windows: Sequence[ResolvedWindow], *, text_len: int, head_dim: int, backend: str,
               tile_backend: str | None, device: torch.device, dtype: torch.dtype,
               ulysses_degree: int = 1) -> tuple[bool, str | None]:
        """(run sparse, why dense) for one call shape; the estimate is kept for ``decisions``.

        Estimated for one batch row: more rows amortize the launch overheads, so the gate errs
        toward dense. Under Ulysses context parallelism each rank runs heads / degree heads.
        Under torch.compile the decision is made eagerly once and traced as a constant.
        """
        if self.policy == SPARSE:
            return True, None
        if self.policy == DENSE:
            return False, "recipe speed_gate: dense"
        geometry = tuple((w.grid, w.kernel_size, w.stride, w.dilation, w.is_causal) for w in windows)
        return _decision(self, geometry, text_len, head_dim, backend, tile_backend, str(device), dtype_name(dtype),
                         ulysses_degree)

    def _decide(self, geometry, text_len, head_dim, backend, tile_backend, device, dtype, degree) -> GateDecision:
        name, profile = self.profile_for(device, dtype)
        if profile is None:
            return GateDecision(True, note=f"no cost profile for {name} {dtype}")
        windows = tuple(ResolvedWindow(*axes) for axes in geometry)
        problem = AttentionProblem(windows, text_len, 1, max(1, self.heads // degree), head_dim,
                                   ELEMENT_SIZE[dtype])
        estimate = estimate_call(problem, backend, tile_backend, profile)
        if estimate is None:
            return GateDecision(True, note=f"the cost profile of {profile.device} has no constants for backend "
                                           f"{backend!r}")
        if estimate.sparse_pays:
            return GateDecision(True, estimate=estimate)
        return GateDecision(False, f"sparse would not pay at {call_shape_text(windows, text_len)}: {estimate.describe()}",
                            estimate)

    def profile_for(self, device: str, dtype: str) -> tuple[str, CostProfile | None]:
        """(device name, the profile that applies or None), looked up once per device and dtype."""
        key = (device, dtype)
        found = self._profiles.get(key)
        if found is None:
            name = device_name(torch.device(device))
            found = (name, find_profile(name, dtype))
            with self._lock:
                self._profiles[key] = found
        return found

    def summary(self) -> list[str]:
        """What the gate did, one line per device / dtype seen (for describe)."""
        if self.policy != AUTO:
            return [f"speed gate: {self.policy} (recipe speed_gate)"]
        with self._lock:
            profiles = dict(self._profiles)
            decisions = list(self.decisions.values())
        if not profiles:
            return ["speed gate: auto (no call decided yet)"]
        lines = []
        for (device, dtype), (name, profile) in profiles.items():
            if profile is None:
                lines.append(f"speed gate: auto, no cost profile for {name} {dtype}: sparse runs where the recipe "
                             "says (na-accel calibrate measures one)")
            else:
                lines.append(f"speed gate: auto, cost profile of {profile.device} ({profile.source})")
        dense = sum(1 for d in decisions if not d.sparse)
        if decisions:
            lines.append(f"speed gate: {len(decisions) - dense} call shape(s) sparse, {dense} dense by estimate")
        return lines


ELEMENT_SIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


# dynamo calls this eagerly while tracing and keeps the result as a constant: the profile lookup
# reads files, and the tile counts run numpy
@torch.compiler.assume_constant_result
def _decision(gate: SpeedGate, geometry: tuple, text_len: int, head_dim: int, backend: str,
              tile_backend: str | None, device: str, dtype: str, degree: int) -> tuple[bool, str | None]:
    key = (geometry, text_len, head_dim, backend, device, dtype, degree)
    decision = gate.decisions.get(key)
    if decision is None:
        decision = gate._decide(geometry, text_len, head_dim, backend, tile_backend, device, dtype, degree)
        with gate._lock:
            gate.decisions[key] = decision
    return decision.sparse, decision.reason


__all__ = ["AUTO", "DENSE", "POLICIES", "SPARSE", "GateDecision", "SpeedGate", "device_name", "call_shape_text"]
