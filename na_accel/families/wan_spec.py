"""Wan 2.1 / 2.2 (WanTransformer3DModel): the family spec. The adapter is ``wan.py`` (imports diffusers).

Self attention (``blocks.<i>.attn1``) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches (VAE 8x spatial, 4x temporal); text (and image tokens for
image-to-video checkpoints) come by cross attention (attn2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, patch_sizes, randn

if TYPE_CHECKING:
    import torch

WAN_IMAGE_TOKENS = 257  # CLIP ViT-H/14 image tokens of the Wan 2.1 image-to-video checkpoints


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any WanTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * p_t, H * p_h, W * p_w). Image-to-video configs
    (``image_dim`` set) also get ``encoder_hidden_states_image``: 257 image tokens per sample, or
    two images' worth when the config has ``pos_embed_seq_len`` (first-last-frame checkpoints).
    """
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    generator = torch.Generator().manual_seed(seed)
    inputs = {
        "hidden_states": randn(
            (batch, config.in_channels, frames * p_t, height * p_h, width * p_w), generator, device, dtype
        ),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_dim), generator, device, dtype),
    }
    if config.image_dim is not None:
        if config.pos_embed_seq_len:
            # WanImageEmbedding folds pairs of images into one sequence of pos_embed_seq_len tokens
            shape = (2 * batch, config.pos_embed_seq_len // 2, config.image_dim)
        else:
            shape = (batch, WAN_IMAGE_TOKENS, config.image_dim)
        inputs["encoder_hidden_states_image"] = randn(shape, generator, device, dtype)
    return inputs


WAN = FamilySpec(
    name="wan",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 480, 832, 81,
        "Wan 2.1 T2V (VAE 8x spatial, 4x temporal; patch 1x2x2)",
    ),
    config_file="wan-14b.json",
    attention_layers=(LayerStack("blocks.{}.attn1", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.wan:adapter",
    text_in_self_attention=False,
)
