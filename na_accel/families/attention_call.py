"""Between the attention seam and a layer's route: one value each way.

The seam (``na_accel.runtime.seam``) describes the attention call a stock processor made as an
``AttentionCall``; the route (``na_accel.runtime.routing``) answers with a ``SparseCall`` (run this
``GNACall``, its layout and windows, on this backend) or None (run the stock call; the route has
counted why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from ..kernels import Backend
    from ..kernels.call import GNACall
    from ..kernels.ulysses import UlyssesShards


@dataclass(frozen=True)
class AttentionCall:
    """One attention call of a patched layer, as the seam sees it."""

    seq_len: int  # tokens the call attends over: visual + text (this rank's shard under context parallelism)
    batch: int  # the rows it got
    device: torch.device
    dtype: torch.dtype
    needs_grad: bool = False  # autograd records the call: the backend needs a backward pass
    foreign_mask: bool = False  # it got an attention mask the GNA path can't honour: runs stock
    # Per row, the valid text lengths the layer's padding mask encodes (read by the seam); they
    # say which of the transformer inputs' rows these are. None: no mask read (no mask, or trusted
    # unread under torch.compile): then ``batch`` is checked against the inputs' rows.
    mask_text_lens: tuple[int, ...] | None = None
    parallel_config: Any = None  # the diffusers context-parallel config set on the processor
    ulysses: bool = False  # the family's shards suit the Ulysses path; without it, context parallelism runs stock


@dataclass(frozen=True)
class SparseCall:
    """How to run one call with GNA: the route's answer to an ``AttentionCall``."""

    call: GNACall  # the joint sequence's layout and windows, handed to the backend as is
    backend: Backend
    ulysses: UlyssesShards | None = None  # run under Ulysses context parallelism (kernels/ulysses.py)


__all__ = ["AttentionCall", "SparseCall"]
