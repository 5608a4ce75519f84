"""Every ComfyUI test case, one module per family (the tests run over this list)."""

from comfyui.cases.base import ComfyCase
from comfyui.cases.flux import FLUX, FLUX_KONTEXT
from comfyui.cases.qwen_image import QWEN_IMAGE, QWEN_IMAGE_EDIT

# One per line.
CASES: tuple[ComfyCase, ...] = (
    FLUX,
    FLUX_KONTEXT,
    QWEN_IMAGE,
    QWEN_IMAGE_EDIT,
)

__all__ = ["CASES", "ComfyCase"]
