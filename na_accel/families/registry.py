"""The model families na_accel knows: ONE ordered list of specs, ``FAMILY_SPECS``, and every lookup
derived from it: ``family_spec`` / ``family_geometry`` by name, ``supported_families`` (the names).

A new family is a ``<family>_spec.py`` (its FamilySpec) next to its adapter module, one line in
``FAMILY_SPECS``, a config in ``configs/`` and a recipe in ``recipes/``; the family tests
(tests/families/test_registry.py) are parametrized over this list.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ArgumentError, RecipeError, UnsupportedModelError
from .chroma_spec import CHROMA
from .cosmos_spec import COSMOS
from .family_types import FamilyGeometry, FamilySpec
from .flux2_spec import FLUX2
from .flux3_spec import FLUX3
from .flux_spec import FLUX
from .helios_spec import HELIOS
from .hunyuan_video15_spec import HUNYUAN_VIDEO15
from .hunyuan_video_spec import HUNYUAN_VIDEO
from .ltx_video_spec import LTX_VIDEO
from .ltx2_spec import LTX2
from .minimax_h3_spec import MINIMAX_H3
from .hunyuan_image_spec import HUNYUAN_IMAGE
from .qwen_image_spec import QWEN_IMAGE
from .skyreels_v2_spec import SKYREELS_V2
from .wan_spec import WAN
from .refused import REFUSED
from .kandinsky6_spec import KANDINSKY6
from .qwen_image_spec import QWEN_IMAGE
from .wan_spec import WAN
from .z_image_spec import Z_IMAGE
from .wan_vace_spec import WAN_VACE

# In the order adapters are tried on a transformer (first match wins) and listed in messages.
FAMILY_SPECS: tuple[FamilySpec, ...] = (
    FLUX,
    HUNYUAN_VIDEO,
    COSMOS,
    WAN,
    HUNYUAN_VIDEO15,
    FLUX2,
    QWEN_IMAGE,
    LTX_VIDEO,
    LTX2,
    MINIMAX_H3,
    HUNYUAN_IMAGE,
    HELIOS,
    CHROMA,
    FLUX3,
    Z_IMAGE,
    KANDINSKY6,
    WAN_VACE,
    SKYREELS_V2,
)

MODELS_PAGE = "docs/models.md"
EXTENDING_PAGE = "docs/extending.md#a-model-family"

_SPEC_BY_NAME: dict[str, FamilySpec] = {spec.name: spec for spec in FAMILY_SPECS}


def supported_families() -> list[str]:
    """The family names (recipe ``model`` values), sorted."""
    return sorted(_SPEC_BY_NAME)


def family_spec(family: str) -> FamilySpec:
    """The spec of ``family``, or an ArgumentError listing the known families."""
    try:
        return _SPEC_BY_NAME[family]
    except (KeyError, TypeError):
        raise ArgumentError(f"model: unknown model family {family!r}; allowed: {supported_families()}") from None


def family_geometry(family: str, *, frames_per_token: int | None = None,
                    pixels_per_token: int | None = None) -> FamilyGeometry:
    """The token geometry of ``family`` (its axes: ``.axes``), or an ArgumentError listing the known families.

    ``frames_per_token`` / ``pixels_per_token`` replace its VAE's temporal / spatial compression: a model
    of the family whose VAE compresses differently (the tiny presets').
    """
    geometry = family_spec(family).geometry
    if frames_per_token is not None:
        geometry = dataclasses.replace(geometry, frames_per_token=frames_per_token)
    if pixels_per_token is not None:
        geometry = dataclasses.replace(geometry, pixels_per_token=pixels_per_token)
    return geometry


def check_recipe_family(recipe_family: str, family: str, where: str, model: str) -> None:
    """A RecipeError unless a recipe for ``recipe_family`` suits a model of ``family``.

    ``where`` is the field and the recipe (``"--recipe: flux_gna"``), ``model`` what the recipe was
    given for (``"tiny-flux"``, ``"transformer (FluxTransformer2DModel)"``); the message reads
    "<where> is for model family 'flux', but <model> is 'wan'; use a wan recipe (...)".
    """
    if recipe_family != family:
        raise RecipeError(
            f"{where} is for model family {recipe_family!r}, but {model} is {family!r}; "
            f"use a {family} recipe (na-accel recipes lists them)"
        )


def all_adapters() -> list[Any]:
    """A new adapter of every family the installed diffusers has (imports diffusers' model modules);
    a family whose transformer came in a later diffusers is left out (``FamilySpec.unavailable_reason``)."""
    return [spec.adapter() for spec in available_family_specs()]


def available_family_specs() -> list[FamilySpec]:
    """The specs of ``FAMILY_SPECS`` whose declaration imports on the installed diffusers."""
    return [spec for spec in FAMILY_SPECS if spec.unavailable_reason() is None]


def adapter_for(transformer: Any, where: str = "transformer") -> Any:
    """The adapter of ``transformer``'s family, or an UnsupportedModelError: why, where it is refused on
    purpose (``refused.REFUSED``); else the supported ones and what a family for it needs."""
    for adapter in all_adapters():
        if adapter.handles(transformer):
            return adapter
    name = type(transformer).__name__
    if name in REFUSED:
        raise UnsupportedModelError(f"{where}: {name} is not supported: {REFUSED[name]} ({MODELS_PAGE})")
    raise UnsupportedModelError(
        f"{where}: {name} is not supported: no na_accel model family handles it\n"
        f"{SUPPORTED_HEADING}\n{supported_models_list()}\n"
        f"A family for another transformer is a declaration (its attention modules and stock processor classes, "
        f"where its token grid and text sit in the sequence, any text padding mask): {EXTENDING_PAGE}\n"
        f"Every diffusers transformer and its status: {MODELS_PAGE}"
    )


SUPPORTED_HEADING = "supported transformers (recipe model family):"


def supported_models_text() -> str:
    """``"FluxTransformer2DModel ('flux'), ..."``: each supported transformer class and its recipe model."""
    return ", ".join(f"{a.transformer_class_name} ({a.family!r})" for a in all_adapters())


def supported_models_list() -> str:
    """Each supported transformer class and its recipe model, one a line (``"  FluxTransformer2DModel ('flux')"``),
    for the errors that list them after their first line."""
    return "\n".join(f"  {a.transformer_class_name} ({a.family!r})" for a in all_adapters())


__all__ = [
    "FAMILY_SPECS", "adapter_for", "all_adapters", "available_family_specs", "check_recipe_family", "family_geometry", "family_spec",
    "supported_families", "supported_models_list", "supported_models_text", "SUPPORTED_HEADING",
]
