"""Tiny random-weight FLUX.1 Kontext (FluxKontextPipeline), built from the tiny FLUX offline.

Kontext edits a reference image: its latent tokens are appended after those of the image being
generated (img_ids column 0 = 1), so the transformer sees two token grids (``extra_grids``). The
preset's reference image is a seeded random picture of another size than the output, so the two
grids differ. ``_auto_resize=False`` and ``max_area`` = the output's area keep the tiny sizes:
Kontext otherwise resizes the reference to its preferred ~1 megapixel sizes and scales the
output to ``max_area`` (1024^2). A call that leaves ``max_area`` out gets height x width.
"""

from __future__ import annotations

import functools

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from .flux import tiny_flux_pipeline

REFERENCE_SIZE = (192, 160)  # (height, width) pixels of the preset's reference image: a 12x10 token grid


def tiny_reference_image(height: int = REFERENCE_SIZE[0], width: int = REFERENCE_SIZE[1], seed: int = 0,
                         batch: int = 1) -> torch.Tensor:
    """A seeded random picture, (batch, 3, height, width) in [0, 1], as FluxKontextPipeline takes it."""
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def tiny_flux_kontext_pipeline(seed: int = 0):
    """A FluxKontextPipeline on the tiny FLUX's components (transformer, VAE, CLIP and T5)."""
    components = tiny_flux_pipeline(seed).components
    pipe = _tiny_kontext_class()(**components)
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_flux_kontext_call())


@functools.cache
def _tiny_kontext_class() -> type:
    (FluxKontextPipeline,) = pipeline_classes("FluxKontextPipeline")
    base = tiny_pipeline_class(FluxKontextPipeline)

    def __call__(self, *args, **kwargs):
        if "max_area" not in kwargs:  # the output's own area: Kontext keeps height x width then
            defaults = self.tiny_call_defaults
            kwargs["max_area"] = kwargs.get("height", defaults["height"]) * kwargs.get("width", defaults["width"])
        return base.__call__(self, *args, **kwargs)

    return type(base.__name__, (base,), {"__module__": base.__module__, "__doc__": base.__doc__, "__call__": __call__})


# 256x256 pixels -> a 16x16 token grid (flux_gna's scaled window runs sparse there, as tiny-flux)
# plus the 12x10 grid of the reference image.
tiny_flux_kontext_call = TinyCall(
    height=256, width=256, steps=2,
    pipeline_kwargs={"guidance_scale": 2.5, "_auto_resize": False},
    computed_kwargs=lambda: {"image": tiny_reference_image()},
)

__all__ = ["REFERENCE_SIZE", "tiny_flux_kontext_call", "tiny_flux_kontext_pipeline", "tiny_reference_image"]
