"""Tiny random-weight Wan 2.x (WanTransformer3DModel), built from config offline.

Token layout: self-attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches; cross-attention (attn2) to the text (and image tokens for
image-to-video checkpoints).
"""

from __future__ import annotations

import torch

from ._grid import check_grid, patch_sizes, randn

TINY_WAN_TEXT_DIM = 32  # UMT5 d_model
WAN_IMAGE_TOKENS = 257  # CLIP ViT-H/14 image tokens of the Wan 2.1 image-to-video checkpoints


def tiny_wan_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny pipelines' VAE)."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=in_channels,
        out_channels=in_channels,
        text_dim=TINY_WAN_TEXT_DIM,
        freq_dim=32,
        ffn_dim=64,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()


def wan_transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any WanTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * p_t, H * p_h, W * p_w). Image-to-video configs
    (``image_dim`` set) also get ``encoder_hidden_states_image``: 257 image tokens per sample, or
    two images' worth when the config has ``pos_embed_seq_len`` (first-last-frame checkpoints).
    """
    frames, height, width = check_grid(grid, batch)
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
