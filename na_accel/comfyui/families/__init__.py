"""The ComfyUI families: one module each (``<family>.py``: a ``ComfyFamily``), listed here."""

from __future__ import annotations

import torch

from ..family import ComfyFamily
from .cosmos import COMFY_COSMOS_PREDICT2
from .flux import COMFY_FLUX
from .hunyuan_video import COMFY_HUNYUAN_VIDEO
from .ltx_video import COMFY_LTX_VIDEO
from .qwen_image import COMFY_QWEN_IMAGE
from .wan import COMFY_WAN, COMFY_WAN_VACE

# One per line, in the order the docs list them.
COMFY_FAMILIES: tuple[ComfyFamily, ...] = (
    COMFY_FLUX,
    COMFY_QWEN_IMAGE,
    COMFY_WAN,
    COMFY_WAN_VACE,
    COMFY_HUNYUAN_VIDEO,
    COMFY_COSMOS_PREDICT2,
    COMFY_LTX_VIDEO,
)


def comfy_family_for(diffusion_model: torch.nn.Module) -> ComfyFamily | None:
    """The family whose ComfyUI class ``diffusion_model`` is, or None."""
    return next((family for family in COMFY_FAMILIES if family.handles(diffusion_model)), None)


__all__ = ["COMFY_FAMILIES", "comfy_family_for"]
