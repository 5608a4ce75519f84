"""Tiny random-weight Cosmos (CosmosTransformer3DModel), built from config offline.

Token layout: self-attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches; cross-attention (attn2) to the text. Cosmos 2 text-to-image
has ONE latent frame.
"""

from __future__ import annotations

import torch

from ._grid import check_grid, patch_sizes, randn

TINY_COSMOS_TEXT_DIM = 32  # T5 d_model


def tiny_cosmos_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny pipelines' VAEs).

    ``concat_padding_mask=False``: True resizes the padding mask with torchvision, not installed.
    """
    from diffusers import CosmosTransformer3DModel

    torch.manual_seed(seed)
    return CosmosTransformer3DModel(
        in_channels=in_channels,
        out_channels=in_channels,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        mlp_ratio=2.0,
        text_embed_dim=TINY_COSMOS_TEXT_DIM,
        adaln_lora_dim=4,
        max_size=(4, 32, 32),
        patch_size=(1, 2, 2),
        rope_scale=(2.0, 1.0, 1.0),
        concat_padding_mask=False,
        extra_pos_embed_type="learnable",
    ).eval()


def cosmos_transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype = torch.float32,
    fps: int | None = 30,
    condition_mask: bool = False,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any CosmosTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, C, T * p_t, H * p_h, W * p_w). ``padding_mask`` (1, 1, h, w) zeros
    is always passed, as the pipelines do (the model uses it only with concat_padding_mask, which
    needs torchvision). ``fps`` feeds the temporal RoPE (Cosmos-Predict1 passes 30; Cosmos 2
    text-to-image passes none). ``condition_mask=True`` splits the input channels into
    ``in_channels - 1`` latent channels plus a (batch, 1, ...) condition mask, as the
    video-to-world pipelines do; by default hidden_states carries all ``in_channels``.
    """
    frames, height, width = check_grid(grid, batch)
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    size = (frames * p_t, height * p_h, width * p_w)
    generator = torch.Generator().manual_seed(seed)
    channels = config.in_channels - 1 if condition_mask else config.in_channels
    inputs = {
        "hidden_states": randn((batch, channels, *size), generator, device, dtype),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_embed_dim), generator, device, dtype),
        "padding_mask": torch.zeros(1, 1, size[1], size[2], device=device, dtype=dtype),
    }
    if fps is not None:
        inputs["fps"] = fps
    if condition_mask:
        inputs["condition_mask"] = torch.zeros(batch, 1, *size, device=device, dtype=dtype)
    return inputs
