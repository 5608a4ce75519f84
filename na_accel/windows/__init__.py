"""GNA windows and their exact meaning: the vocabulary shared by recipes and kernels."""

from .masks import axis_neighborhood_mask, joint_attention_mask, visual_neighborhood_mask
from .spec import ResolvedWindow, WindowSpec, effective_axes, format_axes

__all__ = [
    "ResolvedWindow", "WindowSpec", "axis_neighborhood_mask", "effective_axes", "format_axes", "joint_attention_mask",
    "visual_neighborhood_mask",
]
