"""FLUX.3 (Flux3Transformer2DModel; the modular Flux3AutoBlocks / Flux3DistilledAutoBlocks pipelines).

Three token modes: the noisy image (``hidden_states``), optional reference images
(``image_cond_hidden_states``, image-to-image / editing) and the Qwen3-VL text. Each mode first runs
its own per-mode blocks, self attention within the mode (``txt_mode_blocks.<i>.attn``,
``mode_blocks.image.<i>.attn``, ``mode_blocks.image_cond.<i>.attn``), then the joint single blocks
(``single_transformer_blocks.<i>.attn``) attend over [text, image, reference images]. All run the
stock Flux3AttnProcessor (one ``dispatch_attention_fn`` call, no mask: FLUX.3 attends to its text
padding).

GNA routes the joint single blocks: text first, then the generated image's row-major (height,
width) grid of 2x2-packed latents, then each reference image's grid (``TokenLayout.extra_grids``):
each grid's queries see their own neighborhood, all text and every token of the other grids; text
queries see everything, as stock. The per-mode blocks stay stock, unrouted: each attends over one
mode's tokens only, a sequence other than the joint one the forward's single layout describes (the
text blocks have no grid at all; the image blocks would need a layout per layer).

The grids come from the position ids (t, h, w, l): the pipeline scales (h, w) by its image RoPE scale
(0.5) and tells images apart by ``l`` (0 for the generated image, -1, -2, ... for the references), so
each run of equal ``l`` is one image whose distinct (h, w) values, in order, form a row-major grid.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_flux3 import Flux3AttnProcessor, Flux3Transformer2DModel

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec
from .image_ids import format_grids
from .read_cache import TensorReadCache


def scaled_image_grids(ids: torch.Tensor, what: str) -> tuple[tuple[int, int], ...] | Refusal:
    """The (height, width) grid of each image in ``ids`` ((tokens, 4) positions (t, h, w, l), (h, w)
    scaled), in token order: one image per run of equal l; or why they are not row-major grids."""
    if ids.ndim == 3:  # batched ids: the transformer's RoPE takes them as they are; rows are equal
        ids = ids[0]
    if ids.ndim != 2 or ids.shape[1] != 4 or ids.shape[0] == 0:
        return Refusal(f"{what} of shape {tuple(ids.shape)} are not (tokens, 4) positions (t, h, w, l)")
    ids = ids.detach().cpu().double()
    layer = ids[:, 3]
    starts = [0, *(torch.nonzero(layer[1:] != layer[:-1]).flatten() + 1).tolist(), ids.shape[0]]
    grids = []
    for begin, end in zip(starts, starts[1:]):
        image = ids[begin:end]
        rows, cols = image[:, 1], image[:, 2]
        row_values, col_values = torch.unique(rows), torch.unique(cols)  # sorted
        height, width = len(row_values), len(col_values)
        if not (height * width == end - begin
                and torch.equal(rows, row_values.repeat_interleave(width))
                and torch.equal(cols, col_values.repeat(height))
                and bool((image[:, 0] == image[0, 0]).all())):
            return Refusal(f"{what} l = {float(layer[begin]):g} (tokens {begin}..{end - 1}) are not a row-major "
                           "(h, w) grid of one t")
        grids.append((height, width))
    return tuple(grids)


def _image_grids(ids: torch.Tensor) -> tuple[tuple[int, int], ...] | Refusal:
    return scaled_image_grids(ids, "img_ids")


def _reference_grids(ids: torch.Tensor) -> tuple[tuple[int, int], ...] | Refusal:
    return scaled_image_grids(ids, "image_cond_ids")


class Flux3Layout:
    """[text, image, reference images] of the joint single blocks: the text length from
    ``encoder_hidden_states``, the grids from ``img_ids`` and ``image_cond_ids``; text first."""

    def __init__(self) -> None:
        # the pipeline builds the ids once per call: the (device-synchronizing) check runs once per tensor
        self._image = TensorReadCache(_image_grids)
        self._references = TensorReadCache(_reference_grids)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states, text, img_ids = (inputs.get(k) for k in ("hidden_states", "encoder_hidden_states", "img_ids"))
        if not all(isinstance(x, torch.Tensor) for x in (hidden_states, text, img_ids)):
            return TokenLayout(None, 0, True, "forward called without hidden_states, encoder_hidden_states or img_ids")
        text_len = int(text.shape[1])
        grids = self._image(img_ids)
        if isinstance(grids, Refusal):
            return TokenLayout(None, text_len, True, grids)
        if len(grids) != 1 or hidden_states.shape[1] != grids[0][0] * grids[0][1]:
            return TokenLayout(None, text_len, True, f"{hidden_states.shape[1]} image tokens but img_ids describe "
                               f"{format_grids(grids)}")
        references: tuple[tuple[int, int], ...] = ()
        cond, cond_ids = inputs.get("image_cond_hidden_states"), inputs.get("image_cond_ids")
        if cond is not None:
            if not isinstance(cond, torch.Tensor) or not isinstance(cond_ids, torch.Tensor):
                return TokenLayout(None, text_len, True, "image_cond_hidden_states without image_cond_ids")
            references = self._references(cond_ids)
            if isinstance(references, Refusal):
                return TokenLayout(None, text_len, True, references)
            if cond.shape[1] != sum(h * w for h, w in references):
                return TokenLayout(None, text_len, True, f"{cond.shape[1]} reference image tokens but image_cond_ids "
                                   f"describe {format_grids(references)}")
        return TokenLayout(grids[0], text_len, True, extra_grids=references)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=Flux3Transformer2DModel,
        pipeline_names=("Flux3ModularPipeline",),
        # the joint blocks; the per-mode blocks (txt_mode_blocks, mode_blocks.<mode>) attend within one mode
        processors=(Flux3AttnProcessor,),
        token_layout=Flux3Layout,
    )
