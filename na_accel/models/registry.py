"""Model families known to recipes: their names and token-grid axes.

Kept free of diffusers imports so recipes validate without loading model code.
"""

# family name -> names of the token-grid axes, in token order (row-major).
FAMILY_AXES: dict[str, tuple[str, ...]] = {
    "flux": ("height", "width"),
}


def supported_families() -> list[str]:
    return sorted(FAMILY_AXES)
