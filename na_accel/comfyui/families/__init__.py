"""The ComfyUI families: one module each (``<family>.py``: a ``ComfyFamily``), listed here."""

from __future__ import annotations

import torch

from ..family import ComfyFamily
from .cosmos import COSMOS_PREDICT2
from .flux import FLUX
from .hunyuan_video import HUNYUAN_VIDEO
from .ltx_video import LTX_VIDEO
from .qwen_image import QWEN_IMAGE
from .wan import WAN, WAN_VACE

# One per line, in the order the docs list them.
COMFY_FAMILIES: tuple[ComfyFamily, ...] = (
    FLUX,
    QWEN_IMAGE,
    WAN,
    WAN_VACE,
    HUNYUAN_VIDEO,
    COSMOS_PREDICT2,
    LTX_VIDEO,
)


def comfy_family_for(diffusion_model: torch.nn.Module) -> ComfyFamily | None:
    """The family whose ComfyUI class ``diffusion_model`` is, or None."""
    return next((family for family in COMFY_FAMILIES if family.handles(diffusion_model)), None)


__all__ = ["COMFY_FAMILIES", "comfy_family_for"]
