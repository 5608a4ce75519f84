"""Every ComfyUI test case, one module per family (the tests run over this list)."""

from comfyui.cases.base import ComfyCase
from comfyui.cases.flux import FLUX, FLUX_KONTEXT
from comfyui.cases.wan import WAN, WAN_I2V, WAN_PHANTOM, WAN_VACE

# One per line.
CASES: tuple[ComfyCase, ...] = (
    FLUX,
    FLUX_KONTEXT,
    WAN,
    WAN_I2V,
    WAN_PHANTOM,
    WAN_VACE,
)

__all__ = ["CASES", "ComfyCase"]
