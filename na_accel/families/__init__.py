"""Model families: one spec per family (``<family>_spec.py``: geometry, layer naming, config, input
builder, adapter) listed in ``registry.py``, and one adapter module per family (``<family>.py``,
which imports diffusers and is loaded only when a model is patched or inspected)."""

from __future__ import annotations

from ..lazy import lazy_exports

# base.py (the adapters' ABC) needs torch; the specs and the registry do not, so estimates, recipe
# checks and the CLI's model list run without torch.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".base": ["ModelAdapter", "TokenLayout"],
    ".family_types": ["FamilyGeometry", "FamilySpec"],
    ".registry": ["FAMILY_SPECS", "adapter_for", "all_adapters", "check_recipe_family", "family_geometry",
                  "family_spec", "supported_families", "supported_models_text"],
})
