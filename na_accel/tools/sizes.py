"""The checks every command shares for sizes, counts and fractions: estimate, bench, compare and demo
refuse the same values with the same message (field, value, what is allowed). Sizes are checked by
the family's geometry (``FamilyGeometry.token_grid``); ``check_size`` looks the geometry up by name.

Fields are named as on the command line (``--height``), the Python API included, so an error reads
the same wherever it comes from.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError
from ..families.geometry import FamilyGeometry, family_geometry
from ..families.spec import is_int


def _flag(field: str) -> str:
    return "--" + field.lstrip("-").replace("_", "-")


def check_count(field: str, value: Any, minimum: int) -> Any:
    """``value`` if it is None or an integer >= ``minimum`` (True, 2.0 and "3" are refused)."""
    if value is not None and not (is_int(value) and value >= minimum):
        raise ArgumentError(f"{_flag(field)}: {value!r} is not valid; allowed: an integer >= {minimum}")
    return value


def check_fraction(field: str, value: Any) -> float:
    """``value`` as a float if it is a real number in [0, 1] ("0.5", True, nan are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{_flag(field)}: {value!r} is not valid; allowed: a number in [0, 1]")
    return float(value)


def check_size(geometry: FamilyGeometry | str, name: str, height: Any, width: Any, frames: Any = None, *,
               single_frame: bool = False) -> tuple[int, ...]:
    """The token grid of ``name`` (a model of ``geometry``'s family, or of the family named so) at
    height x width (x frames) pixels, or an ArgumentError naming the field, the value and what is
    allowed: ``FamilyGeometry.token_grid``, the one size check."""
    geometry = family_geometry(geometry) if isinstance(geometry, str) else geometry
    return geometry.token_grid(height, width, frames, name=name, single_frame=single_frame)


__all__ = ["check_count", "check_fraction", "check_size"]
