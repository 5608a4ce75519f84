"""FLUX.2 (Flux2Transformer2DModel): the family spec. The adapter is ``flux2.py`` (imports diffusers).

Joint [text, image] attention in 8 double-stream + 48 single-stream blocks (FLUX.2-dev; the Klein
checkpoints have fewer). The image tokens are a row-major (height, width) grid of 2x2-patchified
VAE latents: one token per 16x16 pixels. Positions are 4 columns (t, h, w, l): images use (t, h, w)
with l = 0, text uses l = 0 .. T-1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def image_ids(height: int, width: int, t: int = 0) -> torch.Tensor:
    """(height * width, 4) positions (t, h, w, l=0) of a row-major grid, as Flux2Pipeline builds them."""
    import torch
    return torch.cartesian_prod(torch.tensor([t]), torch.arange(height), torch.arange(width), torch.arange(1))


def text_ids(text_len: int) -> torch.Tensor:
    """(text_len, 4) positions (0, 0, 0, l) of the text tokens, as Flux2Pipeline builds them."""
    import torch
    return torch.cartesian_prod(torch.arange(1), torch.arange(1), torch.arange(1), torch.arange(text_len))


def transformer_inputs(transformer, grid=(4, 4), batch: int = 1, text_len: int = 8, seed: int = 0, device="cpu",
                       dtype: torch.dtype | None = None) -> dict[str, Any]:
    """Random forward kwargs for any Flux2Transformer2DModel over a (height, width) token grid, shaped as
    Flux2Pipeline passes them: packed latents (B, H*W, in_channels), text (B, T, joint_attention_dim),
    batched int64 img_ids / txt_ids (B, N, 4), t / 1000, guidance (guidance-distilled configs)."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    height, width = check_grid_and_batch(grid, batch, ("height", "width"))
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    inputs = {
        "encoder_hidden_states": randn((batch, text_len, config.joint_attention_dim), generator, device, dtype),
        "img_ids": image_ids(height, width).expand(batch, -1, -1).to(device),
        "txt_ids": text_ids(text_len).expand(batch, -1, -1).to(device),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),  # the pipeline passes t / 1000
    }
    if config.guidance_embeds:  # FLUX.2-dev; Klein checkpoints have no guidance embedder
        inputs["guidance"] = torch.full((batch,), 4.0, device=device)
    inputs["hidden_states"] = randn((batch, height * width, config.in_channels), generator, device, dtype)
    return inputs


FLUX2 = FamilySpec(
    name="flux2",
    geometry=FamilyGeometry(("height", "width"), 16, None, 1024, 1024, None,
                            "FLUX.2-dev (VAE 8x, 2x2-patchified latents)"),
    config_file="flux2-dev.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),
                      LayerStack("single_transformer_blocks.{}.attn", "num_single_layers")),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.flux2:adapter",
    text_in_self_attention=True,
    timestep_scale=1e-3,
)
