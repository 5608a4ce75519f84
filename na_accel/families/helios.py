"""Helios (HeliosTransformer3DModel; HeliosPipeline, HeliosPyramidPipeline, modular HeliosAutoBlocks).

Each block has self attention (``blocks.<i>.attn1``) and cross attention to the text (``attn2``),
both HeliosAttnProcessor; only attn1 is routed. attn1's sequence is the history context (long, mid
and short history latents, patchified at three scales, in that order) followed by the chunk being
denoised. The chunk is the token grid (the (B, C, F, H, W) input divided by ``config.patch_size``);
the history tokens join as extra keys, like text first: every chunk query attends all of them, and
their own rows run dense (stock). The processor's history-key amplification
(``is_amplify_history``) happens before the attention call and so stays stock. No mask, not causal.
Ulysses: diffusers' Helios cp plan splits the joint sequence evenly, history and chunk together,
not each part on its own as GNA's Ulysses path needs: context-parallel calls run stock, counted.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_helios import HeliosAttnProcessor, HeliosTransformer3DModel

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout, config_patch_size, video_token_grid
from .family_types import FamilySpec
from .helios_spec import HISTORY_PATCHES, history_patch_tokens


class HeliosLayout:
    """The chunk's grid, after the history tokens the forward puts before it (as text first)."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        patch = config_patch_size(transformer.config)
        grid = video_token_grid(inputs.get("hidden_states"), patch)
        if isinstance(grid, Refusal):
            return TokenLayout(None, 0, True, grid)
        history = 0
        for latents_name, indices_name, padding, multiple in HISTORY_PATCHES:
            latents = inputs.get(latents_name)
            if latents is None or inputs.get(indices_name) is None:
                continue  # the forward adds a history only when both are given
            if not isinstance(latents, torch.Tensor) or latents.ndim != 5:
                shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
                return TokenLayout(None, 0, True, Refusal(f"{latents_name} {shape} is not a (batch, channels, "
                                                          "frames, height, width) latent"))
            history += history_patch_tokens(tuple(latents.shape), patch, padding, multiple)
        return TokenLayout(grid, history, True)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=HeliosTransformer3DModel,
        pipeline_names=("HeliosPipeline", "HeliosPyramidPipeline", "HeliosModularPipeline", "HeliosPyramidModularPipeline",
                        "HeliosPyramidDistilledModularPipeline"),
        processors=(HeliosAttnProcessor,),
        token_layout=HeliosLayout,
        ulysses=False,  # the cp plan splits history + chunk as one sequence
    )
