"""Every ComfyUI test case, one module per family (the tests run over this list)."""

from comfyui.cases.base import ComfyCase
from comfyui.cases.flux import FLUX, FLUX_KONTEXT
from comfyui.cases.hunyuan_video import HUNYUAN_VIDEO

# One per line.
CASES: tuple[ComfyCase, ...] = (
    FLUX,
    FLUX_KONTEXT,
    HUNYUAN_VIDEO,
)

__all__ = ["CASES", "ComfyCase"]
