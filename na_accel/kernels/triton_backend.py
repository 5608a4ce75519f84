"""The ``triton`` backend: na_accel's own fused GNA kernel (``triton_gna``), on any CUDA GPU that
runs Triton, after a plain ``pip install`` (Triton comes with torch's CUDA wheels on Linux).

Visual queries run the kernel (neighborhood and valid text keys in one online softmax, one launch
for the whole batch, padded prompts of different lengths included); text queries run the model's
dense attention and are written into the kernel's output (``Backend.joint_attention``). Forward
only (inference).
"""

from __future__ import annotations

import importlib.util
import os

import torch

from .base import Backend, BackendTarget, dtype_name

DTYPES = (torch.float16, torch.bfloat16, torch.float32)
HEAD_DIM_LIMIT = 256  # one program holds a (query tile x head_dim) float32 accumulator in registers


class TritonBackend(Backend):
    name = "triton"
    tile_backend = "triton"
    on_gpu_by_auto = True

    def unavailable_reason(self, target: BackendTarget) -> str | None:
        if importlib.util.find_spec("triton") is None:
            return "Triton is not installed (it ships with torch's CUDA wheels on Linux: pip install triton)"
        if target.requires_grad:
            return "forward only (inference): no backward pass for autograd"
        if target.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
            return "runs on CUDA GPUs (on CPU only under TRITON_INTERPRET=1, for tests)"
        if target.device.type not in ("cpu", "cuda"):
            return f"runs on CUDA GPUs, not on {target.device.type}"
        if target.dtype not in DTYPES:
            return f"dtype {dtype_name(target.dtype)} unsupported; allowed: float16, bfloat16, float32"
        if not 1 <= target.head_dim <= HEAD_DIM_LIMIT:
            return f"head_dim {target.head_dim} unsupported; allowed: 1..{HEAD_DIM_LIMIT}"
        if target.device.type == "cuda":
            major, minor = torch.cuda.get_device_capability(target.device)
            if target.dtype == torch.bfloat16 and major < 8:
                return f"bfloat16 needs compute capability 8.0+, this GPU has {major}.{minor}"
            if (major, minor) < (7, 5):
                return f"needs compute capability 7.5+, this GPU has {major}.{minor}"
        return None

    def visual_attention(self, query, key, value, *, text_len, text_first, window, text_valid_lens):
        from .triton_op import triton_visual_attention

        if torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value)):
            raise NotImplementedError(
                "backend 'triton' is forward-only (inference): run the pipeline under torch.no_grad() "
                "or torch.inference_mode(), or pick a NATTEN backend for training"
            )
        return triton_visual_attention(
            query, key, value, grid=window.grid, kernel_size=window.kernel_size, stride=window.stride,
            dilation=window.dilation, is_causal=window.is_causal, text_len=text_len, text_first=text_first,
            text_valid_lens=text_valid_lens,
        )
