"""Which backend runs a patched transformer's attention calls.

Resolved when patching, for the device and dtype of the model's weights; resolved again (once,
then cached) for a call that brings tensors of another device or dtype, or that autograd records
(not every backend has a backward pass). A call no backend can run gets the reason instead, and
runs the stock processor (counted).
"""

from __future__ import annotations

import torch

from ..errors import BackendUnavailableError, Refusal
from ..kernels import (
    AUTO, Backend, BackendTarget, backend_reasons, dtype_name, faster_unavailable, needs_probes, resolve_backend,
    unavailable_reasons,
)
from ..recipe.scaling import SnapContext


def execution_device(model: torch.nn.Module) -> torch.device:
    """The device ``model``'s forward computes on, for resolving the backend at patch time.

    Where accelerate's offload hooks move the weights in per call (``enable_model_cpu_offload``,
    ``enable_sequential_cpu_offload``, a ``device_map``), their execution device: the weights
    rest on the CPU or, sequentially offloaded, on the meta device, where no backend runs. With
    diffusers' group offloading, its onload device. Else the device of the weights.
    """
    try:  # diffusers' group offloading: the weights rest on the offload device between calls
        from diffusers.hooks.group_offloading import _get_group_onload_device, _is_group_offload_enabled

        if _is_group_offload_enabled(model):
            return torch.device(_get_group_onload_device(model))
    except ImportError:
        pass
    for module in model.modules():
        hook = getattr(module, "_hf_hook", None)
        # accelerate chains hooks in a SequentialHook, which has no device of its own
        for hook in getattr(hook, "hooks", None) or (hook,):
            device = getattr(hook, "execution_device", None)
            if device is not None:
                return torch.device(device)
    return next(model.parameters()).device


class BackendChoice:
    def __init__(self, requested: str, target: BackendTarget | None) -> None:
        self.requested = requested
        self.target = target  # None when no layer is sparse: nothing to run
        # every backend is probed once (a probe may allocate on the device), for the choice and the report
        reasons = backend_reasons(target) if target is not None and needs_probes(requested) else None
        self.backend: Backend | None = resolve_backend(requested, target, reasons) if target is not None else None
        # the backends auto ranks above the chosen one on ``target``, and why they can't run
        self.passed_over: dict[str, str] = (faster_unavailable(self.backend.name, target, reasons)
                                            if self.backend else {})
        self._borrowed_tiles: dict[tuple, str | None] = {}  # (device, dtype) -> the tiles auto's backend uses
        self._by_call: dict[tuple, Backend | Refusal] = {}
        if self.backend is not None:
            self._by_call[self._key(target.device, target.dtype, False)] = self.backend

    @staticmethod
    def _key(device, dtype: torch.dtype, needs_grad: bool) -> tuple:
        return (str(device), dtype, needs_grad)

    def for_call(self, device: torch.device, dtype: torch.dtype, needs_grad: bool = False) -> Backend | Refusal:
        """The backend for a call's tensors, or one line saying why none can run them (resolved once
        per device, dtype and autograd)."""
        key = self._key(device, dtype, needs_grad)
        backend = self._by_call.get(key)
        if backend is None:
            target = self._target(device, dtype, needs_grad)
            try:
                backend = resolve_backend(self.requested, target)
            except BackendUnavailableError:
                reasons = unavailable_reasons(self.requested, target)
                backend = Refusal(f"backend {self.requested!r} can't run for {target.describe()}: "
                                  + "; ".join(f"{name}: {reason.rstrip('.')}" for name, reason in reasons.items()))
            self._by_call[key] = backend
        return backend

    def tiles_for(self, backend: Backend, device: torch.device, dtype: torch.dtype) -> SnapContext:
        """The tiles that model ``backend``'s calls on ``device`` and ``dtype``: its tile table
        (``na_accel.kernels.tiles``), head_dim, dtype bits. One decision for recipe snapping, the speed
        gate and describe's estimate. A backend that ``borrows_auto_tiles`` (the reference: no tiles of
        its own) takes those of the backend ``auto`` picks for the same device, so that it computes
        exactly what that backend would."""
        table = backend.tile_backend
        if backend.borrows_auto_tiles:
            key = (str(device), dtype)
            if key not in self._borrowed_tiles:  # resolved once per device and dtype, not per window
                try:
                    self._borrowed_tiles[key] = resolve_backend(AUTO, self._target(device, dtype)).tile_backend
                except BackendUnavailableError:
                    self._borrowed_tiles[key] = None
            table = self._borrowed_tiles[key]
        return SnapContext(table, self.target.head_dim, torch.finfo(dtype).bits)

    @property
    def used(self) -> dict[str, str]:
        """Per device / dtype (/ autograd) seen so far: the backend that ran, or "none available"."""
        return {
            f"{device} {dtype_name(dtype)}{' autograd' if grad else ''}":
                b.name if isinstance(b, Backend) else "none available"
            for (device, dtype, grad), b in list(self._by_call.items())
        }

    def _target(self, device, dtype: torch.dtype, needs_grad: bool = False) -> BackendTarget:
        return BackendTarget(torch.device(device), dtype, self.target.head_dim, self.target.grid_rank, needs_grad)
