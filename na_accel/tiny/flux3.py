"""Tiny random-weight FLUX.3 (Flux3Transformer2DModel), built from config offline.

Token layout: per-mode blocks (text, image, reference images: each attends within its mode, stock),
then joint single blocks over [text, image, reference images] (GNA); the image tokens are a
row-major (height, width) grid of 2x2-packed latents, each reference image a grid of its own.
The bare transformer's inputs are the family's (``flux3_transformer_inputs``, reference images by
``reference_grids``). No tiny pipeline yet: FLUX.3 is modular only (Flux3AutoBlocks), with a
Qwen3-VL text encoder and processor to build offline, and its text step takes one prompt per call.
"""

from __future__ import annotations

import torch

TINY_FLUX3_TEXT_DIM = 48  # stacked text-encoder hidden states: 3 layers x 16


def tiny_flux3_transformer(seed: int = 0, flow_map: bool = False):
    from diffusers import Flux3Transformer2DModel

    torch.manual_seed(seed)
    return Flux3Transformer2DModel(
        in_channels=16,
        cond_in_channels=16,
        num_layers=1,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TINY_FLUX3_TEXT_DIM,
        timestep_channels=32,
        axes_dims_rope=(4, 4, 4, 4),
        flow_map=flow_map,
    ).eval()
