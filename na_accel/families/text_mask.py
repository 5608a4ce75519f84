"""Padded text in joint attention: per-row valid text lengths read from a model's own mask.

HunyuanVideo 1.0 and 1.5 right-pad their text and hand every attention layer a boolean mask of
the valid tokens. GNA cuts the padding from the text keys (NATTEN's extra keys take no mask), so
their processors read the valid lengths from the mask they are given and check them against the
forward inputs'. The read synchronizes the device: ``read_cache.TensorReadCache`` does it once per
mask tensor (the stock forwards build one mask per call and pass the same tensor to every block).
"""

from __future__ import annotations

import torch


def prefix_lengths(valid: torch.Tensor, also: torch.Tensor | None = None) -> tuple[int, ...] | None:
    """Per row of a (batch, tokens) bool mask, how many leading tokens are valid; None unless every
    row's valid tokens are a prefix (valid..., padding...) and ``also`` (a bool tensor, if given) is
    all true. One device read, whatever the checks."""
    lens = valid.sum(dim=1)
    prefix = torch.arange(valid.shape[1], device=valid.device)[None, :] < lens[:, None]
    ok = (valid == prefix).all()
    if also is not None:
        ok = ok & also.all()
    *lengths, is_prefix = torch.cat([lens, ok.view(1).to(lens.dtype)]).tolist()
    return tuple(int(n) for n in lengths) if is_prefix else None


__all__ = ["prefix_lengths"]
