"""The checks every command shares for sizes, counts and fractions: estimate, bench, compare and demo
refuse the same values with the same message (field, value, what is allowed).

Fields are named as on the command line (``--height``), the Python API included, so an error reads
the same wherever it comes from.
"""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError
from ..families.geometry import FamilyGeometry, family_geometry


def _flag(field: str) -> str:
    return "--" + field.lstrip("-").replace("_", "-")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_count(field: str, value: Any, minimum: int) -> Any:
    """``value`` if it is None or an integer >= ``minimum`` (True, 2.0 and "3" are refused)."""
    if value is not None and not (_is_int(value) and value >= minimum):
        raise ArgumentError(f"{_flag(field)}: {value!r} is not valid; allowed: an integer >= {minimum}")
    return value


def check_fraction(field: str, value: Any) -> float:
    """``value`` as a float if it is a real number in [0, 1] ("0.5", True, nan are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{_flag(field)}: {value!r} is not valid; allowed: a number in [0, 1]")
    return float(value)


def check_size(geometry: FamilyGeometry | str, name: str, height: Any, width: Any, frames: Any = None, *,
               single_frame: bool = False) -> tuple[int, ...]:
    """The token grid of ``name`` (a model of ``geometry``'s family) at height x width (x frames) pixels,
    or an ArgumentError naming the field, the value and what is allowed.

    ``single_frame``: a video family's transformer run on images (Cosmos 2 text-to-image): frames
    must be 1 or none, and the grid has one latent frame.
    """
    geometry = family_geometry(geometry) if isinstance(geometry, str) else geometry
    step = geometry.pixels_per_token
    for field_name, value in (("height", height), ("width", width)):
        if not _is_int(value) or value < step or value % step:
            raise ArgumentError(
                f"--{field_name}: {value!r} is not valid for {name}; allowed: a multiple of {step} "
                f"pixels >= {step} (one {geometry.family} token is {step}x{step} pixels)"
            )
    if not geometry.is_video or single_frame:
        if frames is not None and not (_is_int(frames) and frames == 1):
            raise ArgumentError(f"--frames: {frames!r} is not valid for {name}, an image model; allowed: 1 or none")
        if single_frame:
            return geometry.token_grid(height, width, 1)
        return geometry.token_grid(height, width)
    c = geometry.frames_per_token
    if frames is not None and not (_is_int(frames) and frames >= 1 and (frames - 1) % c == 0):
        raise ArgumentError(
            f"--frames: {frames!r} is not valid for {name}; allowed: {c}k+1 frames (1, {c + 1}, {2 * c + 1}, ...)"
        )
    return geometry.token_grid(height, width, frames)


__all__ = ["check_count", "check_fraction", "check_size"]
