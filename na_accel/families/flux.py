"""FLUX (FluxTransformer2DModel): joint [text, image] attention in dual- and single-stream blocks.

Token layout: text first, then the image tokens of a row-major (height, width) grid of 2x2-packed
latent patches (1024x1024 pixels -> 64x64 tokens). The grid comes from ``img_ids`` (columns 1 and
2 hold row and column) and the text length from ``txt_ids``: single-stream blocks hand the
processor the concatenated sequence without ``encoder_hidden_states``, so only the transformer's
forward inputs tell where text ends. FLUX.1 Kontext appends the reference image's tokens, their
ids marked 1 in column 0: each run of equal column-0 values is one grid, the first the generated
image, the rest reference images (``TokenLayout.extra_grids``).
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor, FluxTransformer2DModel

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec
from .image_ids import flux_image_grids
from .read_cache import TensorReadCache


class FluxLayout:
    """The image grid(s) from ``img_ids``, the text length from ``txt_ids``; text first."""

    def __init__(self) -> None:
        # Pipelines build img_ids once per call: the (device-synchronizing) check runs once per tensor.
        self._grids_from_ids = TensorReadCache(flux_image_grids)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states, img_ids, txt_ids = (inputs.get(k) for k in ("hidden_states", "img_ids", "txt_ids"))
        if img_ids is None or txt_ids is None or hidden_states is None:
            return TokenLayout(None, 0, True, "forward called without hidden_states, img_ids or txt_ids")
        if txt_ids.ndim == 3:  # deprecated batched ids: the transformer itself takes [0]
            txt_ids = txt_ids[0]
        if img_ids.ndim == 3:
            img_ids = img_ids[0]
        text_len = int(txt_ids.shape[0])
        grids = self._grids_from_ids(img_ids)
        if isinstance(grids, Refusal):
            return TokenLayout(None, text_len, True, grids)
        n_image = sum(h * w for h, w in grids)
        if hidden_states.shape[1] != n_image:
            return TokenLayout(
                None, text_len, True,
                f"{hidden_states.shape[1]} image tokens but img_ids describe grids {list(grids)} ({n_image} tokens)",
            )
        return TokenLayout(grids[0], text_len, True, extra_grids=grids[1:])


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=FluxTransformer2DModel,
        exact_class=False,
        pipeline_names=("FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline", "FluxControlPipeline",
                        "FluxKontextPipeline"),
        processors=(FluxAttnProcessor,),  # not IP-Adapter's: it adds its own attention calls
        token_layout=FluxLayout,
        ulysses=True,
    )
