"""Every ComfyUI test case, one module per family (the tests run over this list)."""

from comfyui.cases.base import ComfyCase
from comfyui.cases.flux import FLUX, FLUX_KONTEXT
from comfyui.cases.ltx_video import LTX_VIDEO, LTX_VIDEO_KEYFRAME

# One per line.
CASES: tuple[ComfyCase, ...] = (
    FLUX,
    FLUX_KONTEXT,
    LTX_VIDEO,
    LTX_VIDEO_KEYFRAME,
)

__all__ = ["CASES", "ComfyCase"]
