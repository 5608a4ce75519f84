"""What every attention backend is: the target it must run on, the interface it implements and the
traits it declares.

No torch at import (only inside the functions that compute): the registry, and with it every
backend's tile model, loads for ``estimate``, which runs without torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .call import GNACall

if TYPE_CHECKING:
    import torch

    from .tile_model import TileModel

# (query, key, value, attention_mask or None) -> output, all [B, S, heads, head_dim]
DenseAttention = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor", "torch.Tensor | None"], "torch.Tensor"]


def dtype_name(dtype: torch.dtype) -> str:
    """'bfloat16' for torch.bfloat16: how dtypes appear in na_accel's messages and reports."""
    return str(dtype).replace("torch.", "")


@dataclass(frozen=True)
class BackendTarget:
    """What a backend must run on: the attention inputs' device, dtype, head_dim and grid rank, and
    whether autograd records the call (then the backend needs a backward pass)."""

    device: torch.device
    dtype: torch.dtype
    head_dim: int
    grid_rank: int
    requires_grad: bool = False

    def describe(self) -> str:
        return (
            f"device={self.device}, dtype={dtype_name(self.dtype)}, "
            f"head_dim={self.head_dim}, {self.grid_rank}-D grid" + (", with autograd" if self.requires_grad else "")
        )


def sdpa_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Dense attention in the [B, S, heads, head_dim] layout."""
    import torch.nn.functional as F

    out = F.scaled_dot_product_attention(
        query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), attn_mask=attention_mask
    )
    return out.transpose(1, 2)


def check_attention_inputs(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
    """A ValueError unless q, k, v are [B, S, heads, head_dim] of one shape, dtype and device (the
    GNA kernels attend each query head to the same head of k and v: no grouped-query heads)."""
    named = {"query": query, "key": key, "value": value}
    if query.dim() != 4:
        raise ValueError(f"GNA attention: query must be [batch, tokens, heads, head_dim], got shape {tuple(query.shape)}")
    for name, tensor in named.items():
        if (tensor.shape, tensor.dtype, tensor.device) != (query.shape, query.dtype, query.device):
            raise ValueError(
                f"GNA attention: {name} is {tuple(tensor.shape)} {dtype_name(tensor.dtype)} on {tensor.device}, "
                f"query {tuple(query.shape)} {dtype_name(query.dtype)} on {query.device}; allowed: one shape, "
                "dtype and device for query, key and value"
            )


class Backend(ABC):
    """One way to run GNA joint attention. Subclasses live one per module in ``na_accel.kernels`` and
    implement ``unavailable_reason`` and ``visual_attention``; ``registry.register_backend`` adds an
    instance (and where ``auto`` ranks it).

    What the rest of na_accel knows about a backend it reads from the traits below, never from its
    name (``tests/kernels/test_registry_backend_modules.py`` holds that).
    """

    name: str = ""
    # The tile model of the kernel (``na_accel.kernels.tile_model``), for recipe snapping, estimates
    # and the speed gate; None when the backend has no tiles of its own.
    tiles: TileModel | None = None
    # ``unavailable_reason`` is None on every target: resolving it by name needs no probes.
    runs_anywhere: bool = False
    # It has no tiles and computes what the backend ``auto`` picks on the same device would: snapping
    # and the speed gate model it with that backend's tiles.
    borrows_auto_tiles: bool = False
    # One clause on what it needs to run, for ``BackendUnavailableError`` (backends may share one).
    install_hint: str | None = None
    # Why ``auto`` never picks it on a GPU, when it can run there ("the unfused ..."), for the same error.
    auto_gpu_note: str | None = None

    @property
    def tile_backend(self) -> str | None:
        """The name of its tile model (``na_accel.kernels.tiles``), or None."""
        return None if self.tiles is None else self.tiles.name

    @abstractmethod
    def unavailable_reason(self, target: BackendTarget) -> str | None:
        """None when the backend can run on ``target``, else why it can't (one line)."""

    @abstractmethod
    def visual_attention(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         call: GNACall) -> torch.Tensor:
        """GNA for the visual queries of one joint sequence of ONE grid (``call.extra_windows`` is
        empty): their neighborhood plus the valid text keys.

        Returns a [B, S, heads, head_dim] tensor whose visual rows hold the result; its text rows
        are left for the caller to fill.
        """

    def joint_attention(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, call: GNACall, *,
                        dense_attention: DenseAttention, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """GNA over the visual grid(s) plus dense text attention (see ``na_accel.kernels.joint``)."""
        from .multi_grid import multi_grid_visual_attention

        if call.extra_windows:
            out = multi_grid_visual_attention(self.visual_attention, query, key, value, call)
        else:
            out = self.visual_attention(query, key, value, call)
        if call.text_len:
            text = call.text_slice
            out[:, text] = dense_attention(query[:, text], key, value, attention_mask)
        return out
