"""Model families known to recipes: their token-grid axes and how pixels map to tokens.

Kept free of diffusers imports so recipes validate (and estimates run) without loading model code.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ArgumentError


@dataclass(frozen=True)
class FamilyGeometry:
    """How a family's pipelines turn (height, width, frames) in pixels into a token grid.

    ``pixels_per_token`` is the VAE's spatial downsampling times the transformer's spatial patch
    size; ``frames_per_token`` the VAE's temporal compression times the temporal patch size (None
    for image models). Video VAEs keep the first frame apart: ``latent = (frames - 1) // c + 1``.
    """

    family: str
    axes: tuple[str, ...]  # token-grid axes in token order (row-major)
    pixels_per_token: int
    frames_per_token: int | None
    default_height: int
    default_width: int
    default_frames: int | None
    reference: str  # the checkpoint whose geometry this is
    head_dim: int = 128  # attention head_dim of the reference checkpoint (all four: 128)

    @property
    def is_video(self) -> bool:
        return self.frames_per_token is not None

    def token_grid(self, height: int, width: int, frames: int | None = None) -> tuple[int, ...]:
        """The token grid the transformer sees for an output of ``height`` x ``width`` (x ``frames``)."""
        for name, value in (("height", height), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value < self.pixels_per_token:
                raise ArgumentError(
                    f"{name}: {value!r} is not valid for {self.family}; allowed: an integer "
                    f">= {self.pixels_per_token} pixels (one token is {self.pixels_per_token} pixels)"
                )
        spatial = (height // self.pixels_per_token, width // self.pixels_per_token)
        if not self.is_video:
            if frames not in (None, 1):
                raise ArgumentError(f"frames: {frames!r} is not valid for {self.family}, an image model; allowed: 1 or none")
            return spatial
        frames = self.default_frames if frames is None else frames
        if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
            raise ArgumentError(f"frames: {frames!r} is not valid for {self.family}; allowed: an integer >= 1")
        return ((frames - 1) // self.frames_per_token + 1,) + spatial


FAMILIES: dict[str, FamilyGeometry] = {
    geometry.family: geometry
    for geometry in (
        FamilyGeometry("flux", ("height", "width"), 16, None, 1024, 1024, None, "FLUX.1-dev (VAE 8x, 2x2 patches)"),
        FamilyGeometry(
            "hunyuan_video", ("frames", "height", "width"), 16, 4, 720, 1280, 129,
            "HunyuanVideo (VAE 8x spatial, 4x temporal; patch 1x2x2)",
        ),
        FamilyGeometry(
            "cosmos", ("frames", "height", "width"), 16, 8, 704, 1280, 121,
            "Cosmos-Predict1-7B (VAE 8x spatial, 8x temporal; patch 1x2x2)",
        ),
        FamilyGeometry(
            "wan", ("frames", "height", "width"), 16, 4, 480, 832, 81,
            "Wan 2.1 T2V (VAE 8x spatial, 4x temporal; patch 1x2x2)",
        ),
    )
}

# family name -> names of the token-grid axes, in token order (row-major).
FAMILY_AXES: dict[str, tuple[str, ...]] = {name: geometry.axes for name, geometry in FAMILIES.items()}


def supported_families() -> list[str]:
    return sorted(FAMILIES)


def family_geometry(family: str) -> FamilyGeometry:
    try:
        return FAMILIES[family]
    except KeyError:
        raise ArgumentError(f"model: unknown model family {family!r}; allowed: {supported_families()}") from None
