"""Model families: one spec per family (``<family>_spec.py``: geometry, layer naming, config, input
builder, adapter) listed in ``registry.py``, and one declaration per family (``<family>.py``: its
``ModelAdapter`` — modules, token layout, padding mask — which imports diffusers and is loaded only
when a model is patched or inspected). No family holds processor code: the stock processors run
unchanged and only their attention call is routed (``na_accel.runtime.seam``)."""

from __future__ import annotations

from ..lazy import lazy_exports

# base.py (the adapters' ABC) needs torch; the specs and the registry do not, so estimates, recipe
# checks and the CLI's model list run without torch.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".base": ["ModelAdapter", "PaddingMask", "TokenLayout"],
    ".family_types": ["FamilyGeometry", "FamilySpec"],
    ".registry": ["FAMILY_SPECS", "adapter_for", "all_adapters", "check_recipe_family", "family_geometry",
                  "family_spec", "supported_families", "supported_models_text"],
})
