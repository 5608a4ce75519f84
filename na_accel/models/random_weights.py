"""Full-size transformers with random weights: built on the meta device (no memory), then materialized
directly in the target dtype on the target device (never the whole model on the CPU by accident)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import ArgumentError

# Random weights on the CPU above this many parameters are refused (a full-size model would take
# tens of GB of RAM and hours per step); shrink the config with overrides or use a GPU.
CPU_PARAMETER_LIMIT = 2_000_000_000


def meta_model(class_name: str, config: dict[str, Any]) -> torch.nn.Module:
    """The model on the meta device (no memory); buffers stay real (they are small)."""
    import diffusers
    from accelerate import init_empty_weights

    cls = getattr(diffusers, class_name)
    try:
        with init_empty_weights(include_buffers=False):
            return cls.from_config(config)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"config: {class_name} rejects the config: {exc}") from None


def build_on_device(class_name: str, config: dict[str, Any], *, device: torch.device, dtype: torch.dtype,
                    seed: int = 0) -> torch.nn.Module:
    """Random weights in ``dtype`` directly on ``device``: never the full model on the CPU by accident."""
    model = meta_model(class_name, config)
    parameters = sum(p.numel() for p in model.parameters())
    if device.type == "cpu" and parameters > CPU_PARAMETER_LIMIT:
        raise ArgumentError(
            f"--device: {class_name} has {parameters / 1e9:.1f}B parameters "
            f"({parameters * torch.finfo(dtype).bits / 8 / 2**30:.0f} GiB in {str(dtype).replace('torch.', '')}); "
            f"random weights of that size are refused on the CPU (limit {CPU_PARAMETER_LIMIT / 1e9:.0f}B). Use "
            "--device cuda, or shrink it with --config-override (e.g. num_layers=1)"
        )
    try:
        return _materialize(model, device, dtype, seed)
    except torch.cuda.OutOfMemoryError:
        model = None
        torch.cuda.empty_cache()
        raise ArgumentError(
            f"--device: {class_name} ({parameters / 1e9:.1f}B parameters, "
            f"{parameters * torch.finfo(dtype).bits / 8 / 2**30:.0f} GiB in {str(dtype).replace('torch.', '')}) "
            f"does not fit on {device}; use --dtype bfloat16, a larger GPU, or --config-override num_layers=..."
        ) from None


def _materialize(model: torch.nn.Module, device: torch.device, dtype: torch.dtype, seed: int) -> torch.nn.Module:
    generator = torch.Generator(device=device).manual_seed(seed)
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            data = torch.empty(param.shape, device=device, dtype=dtype)
            if data.ndim >= 2:
                data.normal_(0.0, 1.0 / math.sqrt(max(1, math.prod(data.shape[1:]))), generator=generator)
            elif name == "bias":
                data.zero_()
            else:
                data.fill_(1.0)  # norm scales
            module._parameters[name] = torch.nn.Parameter(data, requires_grad=False)
        for name, buffer in list(module._buffers.items()):
            if buffer is not None:
                module._buffers[name] = buffer.to(device=device, dtype=dtype if buffer.is_floating_point() else None)
    return model.eval()


__all__ = ["CPU_PARAMETER_LIMIT", "build_on_device", "meta_model"]
