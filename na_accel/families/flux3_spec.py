"""FLUX.3 (Flux3Transformer2DModel): the family spec. The adapter is ``flux3.py`` (imports diffusers).

5 per-mode blocks per token mode (text, image, reference images; self attention within the mode,
stock) then 28 joint single blocks over [text, image, reference images] (GNA). The image tokens are
a row-major (height, width) grid of 2x2-packed VAE latents (128 channels): one token per 16x16
pixels. Positions are 4 columns (t, h, w, l): images have (h, w) scaled by 0.5 and l = 0 (the
generated image) or -1, -2, ... (references); text has l = 0 .. T-1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch

IMAGE_ROPE_SCALE = 0.5  # Flux3PrepareLatentsStep's default: (h, w) ids are scaled by it


def image_ids(height: int, width: int, l_coord: int = 0) -> torch.Tensor:
    """(height * width, 4) float positions (0, h * 0.5, w * 0.5, l) of a row-major grid, as the pipeline builds them."""
    import torch
    ids = torch.cartesian_prod(torch.arange(1), torch.arange(height), torch.arange(width),
                               torch.tensor([l_coord])).float()
    ids[:, 1:3] *= IMAGE_ROPE_SCALE
    return ids


def text_ids(text_len: int) -> torch.Tensor:
    """(text_len, 4) float positions (0, 0, 0, l) of the text tokens."""
    import torch
    return torch.cartesian_prod(torch.arange(1), torch.arange(1), torch.arange(1), torch.arange(text_len)).float()


def transformer_inputs(transformer, grid=(4, 4), batch: int = 1, text_len: int = 8, seed: int = 0, device="cpu",
                       dtype: torch.dtype | None = None,
                       reference_grids: Sequence[Sequence[int]] = ()) -> dict[str, Any]:
    """Random forward kwargs for any Flux3Transformer2DModel over a (height, width) token grid, shaped as
    the FLUX.3 denoise step passes them: packed latents (B, H*W, in_channels), text (B, T,
    joint_attention_dim), img_ids / txt_ids (N, 4), t in [0, 1], target_timestep on flow-map configs;
    ``reference_grids``: reference images (image_cond_hidden_states / image_cond_ids), one grid each."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    height, width = check_grid_and_batch(grid, batch, ("height", "width"))
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    inputs = {
        "encoder_hidden_states": randn((batch, text_len, config.joint_attention_dim), generator, device, dtype),
        "img_ids": image_ids(height, width).to(device),
        "txt_ids": text_ids(text_len).to(device),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),
    }
    if config.flow_map:  # step-distilled: the timestep each step jumps to
        inputs["target_timestep"] = torch.full((batch,), 0.25, device=device, dtype=dtype)
    if reference_grids:
        grids = [check_grid_and_batch(g, batch, ("height", "width")) for g in reference_grids]
        tokens = sum(h * w for h, w in grids)
        inputs["image_cond_hidden_states"] = randn((batch, tokens, config.cond_in_channels), generator, device, dtype)
        inputs["image_cond_ids"] = torch.cat([image_ids(h, w, -(1 + i)) for i, (h, w) in enumerate(grids)]).to(device)
    inputs["hidden_states"] = randn((batch, height * width, config.in_channels), generator, device, dtype)
    return inputs


FLUX3 = FamilySpec(
    name="flux3",
    geometry=FamilyGeometry(("height", "width"), 16, None, 1024, 1024, None,
                            "FLUX.3 (VAE 8x, 2x2-packed latents)"),
    config_file="flux3.json",
    attention_layers=(LayerStack("single_transformer_blocks.{}.attn", "num_single_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.flux3:adapter",
    text_in_self_attention=True,
    timestep_scale=1e-3,  # the denoise step passes t / 1000
)
