"""Padded text in joint attention: per-row valid text lengths read from a model's own mask.

HunyuanVideo 1.0 and 1.5 right-pad their text and hand every attention layer a boolean mask of
the valid tokens. GNA cuts the padding from the text keys (NATTEN's extra keys take no mask), so
their processors read the valid lengths from the mask they are given and check them against the
forward inputs'. The read synchronizes the device: ``MaskReadCache`` does it once per mask tensor
(the stock forwards build one mask per call and pass the same tensor to every block).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch


def prefix_lengths(valid: torch.Tensor) -> tuple[int, ...] | None:
    """Per row of a (batch, tokens) bool mask, how many leading tokens are valid; None unless every
    row's valid tokens are a prefix (valid..., padding...)."""
    lens = valid.sum(dim=1)
    prefix = torch.arange(valid.shape[1], device=valid.device)[None, :] < lens[:, None]
    if not torch.equal(valid, prefix):
        return None
    return tuple(int(n) for n in lens.tolist())


class MaskReadCache:
    """``read(mask, *args)`` (a device-synchronizing read of a mask), cached on the mask tensor's
    identity and version and on ``args``: the same tensor is read once, an edited one again."""

    def __init__(self, read: Callable[..., Any]) -> None:
        self._read = read
        self._cache: tuple[weakref.ref, int, tuple, Any] | None = None

    def __call__(self, mask: torch.Tensor, *args: Any) -> Any:
        cache = self._cache
        if cache is not None and cache[0]() is mask and cache[1] == mask._version and cache[2] == args:
            return cache[3]
        result = self._read(mask, *args)
        self._cache = (weakref.ref(mask), mask._version, args, result)
        return result


__all__ = ["MaskReadCache", "prefix_lengths"]
