"""FLUX (FluxTransformer2DModel): the family spec. The adapter is ``flux.py`` (imports diffusers).

Joint [text, image] attention in 19 dual-stream + 38 single-stream blocks (FLUX.1-dev); the image
tokens are a row-major (height, width) grid of 2x2-packed latents: one token per 16x16 pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def transformer_inputs(transformer, grid=(4, 4), batch: int = 1, text_len: int = 8, seed: int = 0, device="cpu",
                       dtype: torch.dtype | None = None) -> dict[str, Any]:
    """Random forward kwargs for any FluxTransformer2DModel over a (height, width) token grid: packed
    latents (B, H*W, in_channels), img_ids / txt_ids, pooled text, guidance (guidance-distilled configs)."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    height, width = check_grid_and_batch(grid, batch, ("height", "width"))
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    inputs = {
        "encoder_hidden_states": randn((batch, text_len, config.joint_attention_dim), generator, device, dtype),
        "pooled_projections": randn((batch, config.pooled_projection_dim), generator, device, dtype),
        "img_ids": torch.stack([torch.zeros_like(rows), rows, cols], dim=1).to(device, dtype),
        "txt_ids": torch.zeros(text_len, 3, device=device, dtype=dtype),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),  # the pipeline passes t / 1000
    }
    if config.guidance_embeds:
        inputs["guidance"] = torch.full((batch,), 3.5, device=device, dtype=torch.float32)
    inputs["hidden_states"] = randn((batch, height * width, config.in_channels), generator, device, dtype)
    return inputs


FLUX = FamilySpec(
    name="flux",
    geometry=FamilyGeometry(("height", "width"), 16, None, 1024, 1024, None, "FLUX.1-dev (VAE 8x, 2x2 patches)"),
    config_file="flux-dev.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),
                      LayerStack("single_transformer_blocks.{}.attn", "num_single_layers")),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.flux:adapter",
    text_in_self_attention=True,
    timestep_scale=1e-3,
)
