"""NATTEN's backends (``blackwell-fna``, ``hopper-fna``, ``cutlass-fna``, ``flex-fna``).

Availability is NATTEN's own check on a small probe tensor of the target's device, dtype and
head_dim, so the answer matches what NATTEN would do at run time. Visual queries run NATTEN's
``na{1,2,3}d`` with the valid text tokens as ``additional_keys`` (merged by log-sum-exp inside
NATTEN; they take no mask, so rows with different valid text lengths run as separate groups);
text queries run the model's dense attention.

``flex-fna`` runs uncompiled (NATTEN's ``torch_compile=False``): on a GPU it materializes the
score matrix and cannot hold real sizes, so ``auto`` never picks it there; NATTEN's compiled
flex path with ``additional_keys`` crashed on an H100 (NOTES §7) and is never used.

Each backend's tile model is NATTEN's config table for it (``natten_tiles``).
"""

from __future__ import annotations

import contextlib
import warnings

from .base import Backend, BackendTarget, sdpa_attention
from .natten_tiles import BLACKWELL_TILES, CUTLASS_TILES, FLEX_TILES, HOPPER_TILES

NATTEN_BACKENDS = ("blackwell-fna", "hopper-fna", "cutlass-fna", "flex-fna")
_CHECKS = {
    "blackwell-fna": "can_run_cutlass_blackwell_fna",
    "hopper-fna": "can_run_cutlass_hopper_fna",
    "cutlass-fna": "can_run_cutlass_fna",
    "flex-fna": "can_run_flex_attention",
}
_TILES = {model.name: model for model in (BLACKWELL_TILES, HOPPER_TILES, CUTLASS_TILES, FLEX_TILES)}
_FUSED_HINT = ("NATTEN's fused kernels (hopper-fna, blackwell-fna, cutlass-fna) come with NATTEN's prebuilt "
               "CUDA wheels")
_FLEX = "flex-fna"  # uncompiled, it materializes the score matrix: never auto's pick on a GPU


@contextlib.contextmanager
def _quiet_flex():
    """torch's flex_attention warns on every unfused call, and about an argument NATTEN still
    uses; neither is actionable for na_accel users. Scoped to NATTEN's calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="return_lse is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="flex_attention called without torch.compile",
                                category=UserWarning)
        yield


class NattenBackend(Backend):
    def __init__(self, name: str):
        self.name = name
        self.tiles = _TILES[name]
        if name == _FLEX:
            self.auto_gpu_note = (f"the unfused {name}, which cannot hold real sizes there "
                                  f"(ask for backend={name!r} by name for small inputs)")
        else:
            self.install_hint = _FUSED_HINT

    def unavailable_reason(self, target: BackendTarget) -> str | None:
        import torch
        from natten.backends.configs import checks

        check = getattr(checks, _CHECKS[self.name])
        # A probe shaped like the real input: [batch, *grid, heads, head_dim] (grid axes >= 2).
        if self.name == _FLEX and target.requires_grad and target.device.type == "cpu":
            return "no backward pass on CPU (PyTorch's FlexAttention has none there)"
        probe = torch.zeros((1,) + (8,) * target.grid_rank + (1, target.head_dim),
                            device=target.device, dtype=target.dtype).requires_grad_(target.requires_grad)
        kwargs = {"torch_compile": False} if self.name == _FLEX else {}
        try:
            ok = check(probe, probe, probe, raise_error=True, **kwargs)
        except Exception as exc:  # NATTEN raises RuntimeError/ValueError/NotImplementedError
            return str(exc).strip().splitlines()[0]
        return None if ok else "NATTEN's check declined without a reason"

    def visual_attention(self, query, key, value, call):
        import torch

        visual, text = call.visual_slice, call.text_slice
        out = torch.empty_like(query)
        out[:, visual] = self._visual(query[:, visual], key[:, visual], value[:, visual], key[:, text],
                                      value[:, text], call.window, call.text_valid_lens)
        return out

    def _visual(self, query, key, value, text_key, text_value, window, text_valid_lens):
        """Visual queries: neighborhood plus the valid text tokens of their batch row."""
        import torch

        text_len = text_key.shape[1]
        lengths = [text_len] * query.shape[0] if text_valid_lens is None else [int(n) for n in text_valid_lens]
        if len(set(lengths)) == 1:  # one call for the whole batch
            n = lengths[0]
            extra = (text_key[:, :n], text_value[:, :n]) if n else (None, None)
            return self._neighborhood(query, key, value, window, *extra)
        # Rows with different valid lengths: one call per length (NATTEN's extra keys take no mask).
        out = torch.empty_like(query)
        for n in sorted(set(lengths)):
            rows = torch.tensor([b for b, length in enumerate(lengths) if length == n], device=query.device)
            extra = (text_key[rows, :n], text_value[rows, :n]) if n else (None, None)
            out[rows] = self._neighborhood(query[rows], key[rows], value[rows], window, *extra)
        return out

    def _neighborhood(self, query, key, value, window, extra_key, extra_value):
        """NATTEN neighborhood attention over the visual grid (plus extra keys seen by every query)."""
        import natten
        import torch

        batch, n_tokens, heads, head_dim = query.shape
        # NATTEN needs a window >= 2 on every axis; an axis of length 1 is trivially covered: drop it.
        axes = [a for a, n in enumerate(window.grid) if n > 1]
        if not axes:  # a single visual token: its neighborhood is itself
            full_key = key if extra_key is None else torch.cat([extra_key, key], dim=1)
            full_value = value if extra_value is None else torch.cat([extra_value, value], dim=1)
            return sdpa_attention(query, full_key, full_value)

        shape = (batch,) + tuple(window.grid[a] for a in axes) + (heads, head_dim)
        # NATTEN merges the neighborhood and extra-key outputs only if they are contiguous, which they are
        # when its inputs are (a no-op for diffusers' layout; ComfyUI's FLUX hands transposed views)
        query, key, value = (t.reshape(shape).contiguous() for t in (query, key, value))
        if extra_key is not None:
            extra_key, extra_value = extra_key.contiguous(), extra_value.contiguous()
        na_fn = {1: natten.na1d, 2: natten.na2d, 3: natten.na3d}[len(axes)]
        with _quiet_flex():
            out = na_fn(
                query, key, value,
                kernel_size=tuple(window.kernel_size[a] for a in axes),
                stride=tuple(window.stride[a] for a in axes),
                dilation=tuple(window.dilation[a] for a in axes),
                is_causal=tuple(window.is_causal[a] for a in axes),
                additional_keys=extra_key, additional_values=extra_value,
                backend=self.name,
            )
        return out.reshape(batch, n_tokens, heads, head_dim)
