"""Cosmos (CosmosTransformer3DModel): the family spec. The adapter is ``cosmos.py`` (imports diffusers).

Self attention (``transformer_blocks.<i>.attn1``) over the video tokens only, a row-major (frames,
height, width) grid of 1x2x2 latent patches (Cosmos-Predict1: VAE 8x spatial, 8x temporal); the
text comes by cross attention (attn2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ArgumentError
from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, patch_sizes, randn

if TYPE_CHECKING:
    import torch


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
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
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    if config.concat_padding_mask:
        try:
            import torchvision  # noqa: F401  (diffusers resizes the padding mask with torchvision)
        except ImportError:
            raise ArgumentError(
                "model: CosmosTransformer3DModel with concat_padding_mask=true needs torchvision "
                "(pip install torchvision), or override it: --config-override concat_padding_mask=false"
            ) from None
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


COSMOS = FamilySpec(
    name="cosmos",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 8, 704, 1280, 121,
        "Cosmos-Predict1-7B (VAE 8x spatial, 8x temporal; patch 1x2x2)",
    ),
    config_file="cosmos-7b.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn1", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.cosmos:adapter",
    text_in_self_attention=False,
)
