"""A device-synchronizing read of a tensor, done once per tensor: ``TensorReadCache``.

Adapters read facts from a forward's inputs (FLUX / FLUX.2 image grids from ``img_ids``, valid text
lengths from a padding mask). The read synchronizes the device; pipelines build those tensors once
per call (often once per generation) and hand the same tensor to every step or block, so the result
is cached on the tensor's identity and version: the same tensor is read once, an edited one again.
The cache is one tuple, replaced whole: a thread never pairs one tensor with another's result.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch


class TensorReadCache:
    """``cache(tensor, *args)`` = ``read(tensor, *args)``, cached on the tensor's identity and version
    and on ``args``."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self._read = read
        self._cache: tuple[weakref.ref, int, tuple, Any] | None = None

    def __getstate__(self) -> dict:  # a copy reads afresh (a weak reference can't be pickled)
        return {**self.__dict__, "_cache": None}

    def __call__(self, tensor: torch.Tensor, *args: Any) -> Any:
        cache = self._cache
        version = _version(tensor)
        if cache is not None and cache[0]() is tensor and cache[1] == version and cache[2] == args:
            return cache[3]
        result = self._read(tensor, *args)
        self._cache = (weakref.ref(tensor), version, args, result)
        return result


def _version(tensor: torch.Tensor) -> int | None:
    """The tensor's version counter; None for an inference tensor (``torch.inference_mode``), which
    keeps none: it is cached on its identity alone (pipelines don't edit their ids or masks in place)."""
    return None if tensor.is_inference() else tensor._version


__all__ = ["TensorReadCache"]
