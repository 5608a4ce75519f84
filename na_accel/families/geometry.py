"""Model families' token geometry by family name (recipes, patch and the tools look it up here).

``FamilyGeometry`` (how pixels map to tokens, with the one size check and its bounds
``MAX_AXIS_TOKENS`` / ``MAX_TOKENS``) is declared in ``spec.py``;
each family's geometry is part of its spec. Free of diffusers imports.
"""

from __future__ import annotations

from .registry import FAMILY_SPECS, family_spec, supported_families
from .spec import MAX_AXIS_TOKENS, MAX_TOKENS, FamilyGeometry

# family name -> names of the token-grid axes, in token order (row-major).
FAMILY_AXES: dict[str, tuple[str, ...]] = {spec.name: spec.geometry.axes for spec in FAMILY_SPECS}


def family_geometry(family: str) -> FamilyGeometry:
    """The geometry of ``family``, or an ArgumentError listing the known families."""
    return family_spec(family).geometry


__all__ = ["FAMILY_AXES", "MAX_AXIS_TOKENS", "MAX_TOKENS", "FamilyGeometry", "family_geometry", "supported_families"]
