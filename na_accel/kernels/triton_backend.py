"""The ``triton`` backend: na_accel's own fused GNA kernel (``triton_gna``), on any CUDA GPU that
runs Triton, after a plain ``pip install`` (Triton comes with torch's CUDA wheels on Linux).

One launch runs the whole joint attention of one grid, for the whole batch, padded prompts of
different lengths included: visual queries over their neighborhood and the valid text keys (one
online softmax), text queries dense over every valid key. With reference-image grids, each grid
runs as its own launch and the text queries run the model's dense attention
(``Backend.joint_attention``). Forward only (inference).
"""

from __future__ import annotations

import importlib.util
import os

from .base import Backend, BackendTarget, dtype_name
from .triton_tiles import TritonTileModel

TRITON_DTYPES = ("float16", "bfloat16", "float32")  # as dtype_name writes them (no torch at import)
HEAD_DIM_LIMIT = 256  # one program holds a (query tile x head_dim) float32 accumulator in registers


class TritonBackend(Backend):
    name = "triton"
    tiles = TritonTileModel(name)
    install_hint = f"{name!r} runs on CUDA GPUs with Triton installed"

    def unavailable_reason(self, target: BackendTarget) -> str | None:
        if importlib.util.find_spec("triton") is None:
            return "Triton is not installed (it ships with torch's CUDA wheels on Linux: pip install triton)"
        if target.requires_grad:
            return "forward only (inference): no backward pass for autograd"
        if target.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            return "runs on CUDA GPUs (on CPU only under TRITON_INTERPRET=1, for tests)"
        if target.device.type not in ("cpu", "cuda"):
            return f"runs on CUDA GPUs, not on {target.device.type}"
        if dtype_name(target.dtype) not in TRITON_DTYPES:
            return f"dtype {dtype_name(target.dtype)} unsupported; allowed: float16, bfloat16, float32"
        if not 1 <= target.head_dim <= HEAD_DIM_LIMIT:
            return f"head_dim {target.head_dim} unsupported; allowed: 1..{HEAD_DIM_LIMIT}"
        if target.device.type == "cuda":
            import torch

            major, minor = torch.cuda.get_device_capability(target.device)
            if target.dtype == torch.bfloat16 and major < 8:
                return f"bfloat16 needs compute capability 8.0+, this GPU has {major}.{minor}"
            if (major, minor) < (7, 5):
                return f"needs compute capability 7.5+, this GPU has {major}.{minor}"
        return None

    def joint_attention(self, query, key, value, call, *, dense_attention, attention_mask=None):
        """Text rows in the kernel's launch (its first programs), not a second dense call over every
        key plus a copy. ``attention_mask`` is then the model's key mask for the padded text, which
        ``call.text_valid_lens`` states (``na_accel.kernels.joint``); without those lengths, or with
        reference-image grids, the text rows run ``dense_attention`` as in every backend."""
        if call.extra_windows or (attention_mask is not None and call.text_valid_lens is None):
            return super().joint_attention(query, key, value, call, dense_attention=dense_attention,
                                           attention_mask=attention_mask)
        return self._run(query, key, value, call, fuse_text=True)

    def visual_attention(self, query, key, value, call):
        return self._run(query, key, value, call, fuse_text=False)

    def _run(self, query, key, value, call, *, fuse_text):
        import torch

        from .triton_op import triton_visual_attention

        if torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value)):
            raise NotImplementedError(
                "backend 'triton' is forward-only (inference): run the pipeline under torch.no_grad() "
                "or torch.inference_mode(), or pick a NATTEN backend for training"
            )
        window = call.window
        return triton_visual_attention(
            query, key, value, grid=window.grid, kernel_size=window.kernel_size, stride=window.stride,
            dilation=window.dilation, is_causal=window.is_causal, text_len=call.text_len, text_first=call.text_first,
            text_valid_lens=call.text_valid_lens, fuse_text=fuse_text,
        )
