"""Model families: one spec per family (``<family>_spec.py``: geometry, layer naming, config, input
builder, adapter) listed in ``registry.py``, and one adapter module per family (``<family>.py``,
which imports diffusers and is loaded only when a model is patched or inspected)."""

from __future__ import annotations

from .base import ModelAdapter, TokenLayout
from .geometry import FAMILY_AXES, family_geometry
from .registry import (
    FAMILIES, FAMILY_SPECS, adapter_for, all_adapters, check_recipe_family, family_spec, supported_families,
    supported_models_text,
)
from .spec import FamilyGeometry, FamilySpec

__all__ = [
    "FAMILIES", "FAMILY_AXES", "FAMILY_SPECS", "FamilyGeometry", "FamilySpec", "ModelAdapter", "TokenLayout",
    "adapter_for", "all_adapters", "check_recipe_family", "family_geometry", "family_spec", "supported_families",
    "supported_models_text",
]
