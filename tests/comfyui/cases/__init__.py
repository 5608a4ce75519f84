"""Every ComfyUI test case, one module per family (the tests run over this list)."""

from comfyui.cases.base import ComfyCase
from comfyui.cases.cosmos import COSMOS_T2I, COSMOS_V2W
from comfyui.cases.flux import FLUX, FLUX_KONTEXT
from comfyui.cases.hunyuan_video import HUNYUAN_VIDEO
from comfyui.cases.ltx_video import LTX_VIDEO, LTX_VIDEO_KEYFRAME
from comfyui.cases.qwen_image import QWEN_IMAGE, QWEN_IMAGE_EDIT
from comfyui.cases.wan import WAN, WAN_I2V, WAN_PHANTOM, WAN_VACE

# One per line.
CASES: tuple[ComfyCase, ...] = (
    FLUX,
    FLUX_KONTEXT,
    QWEN_IMAGE,
    QWEN_IMAGE_EDIT,
    WAN,
    WAN_I2V,
    WAN_PHANTOM,
    WAN_VACE,
    HUNYUAN_VIDEO,
    COSMOS_T2I,
    COSMOS_V2W,
    LTX_VIDEO,
    LTX_VIDEO_KEYFRAME,
)

__all__ = ["CASES", "ComfyCase"]
