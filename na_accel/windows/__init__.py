"""GNA windows and their exact meaning: the vocabulary shared by recipes and kernels."""

from ..lazy import lazy_exports

# masks.py needs torch; window.py does not (recipes and estimates run without torch).
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".masks": ["axis_neighborhood_mask", "joint_attention_mask", "visual_neighborhood_mask"],
    ".window": ["ResolvedWindow", "WindowSpec", "effective_axes", "format_axes"],
})
