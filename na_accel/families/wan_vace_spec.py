"""Wan-VACE (WanVACETransformer3DModel): the family spec. The adapter is ``wan_vace.py`` (imports diffusers).

Self attention over the video tokens, a row-major (frames, height, width) grid of 1x2x2 latent
patches (the Wan VAE: 8x spatial, 4x temporal), in the Wan blocks (``blocks.<i>.attn1``) and in the
VACE context blocks (``vace_blocks.<j>.attn1``, over the control tokens of the same grid); text by
cross attention (attn2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, patch_sizes, randn
from .wan_spec import transformer_inputs as wan_transformer_inputs

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
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for a WanVACETransformer3DModel over a (T, H, W) token grid: Wan's
    (``family.wan_spec.transformer_inputs``) plus ``control_hidden_states``, (batch,
    vace_in_channels, T * p_t, H * p_h, W * p_w) as WanVACEPipeline passes it (the control video's
    latents and its mask)."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    inputs = wan_transformer_inputs(transformer, grid, batch, text_len, seed, device, dtype)
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    generator = torch.Generator().manual_seed(seed + 1)
    inputs["control_hidden_states"] = randn(
        (batch, config.vace_in_channels, frames * p_t, height * p_h, width * p_w), generator, device, dtype
    )
    return inputs


def vace_layer_count(config: Mapping[str, Any]) -> int:
    """The VACE blocks: one per entry of ``vace_layers`` (the Wan blocks they feed)."""
    return len(config["vace_layers"])


WAN_VACE = FamilySpec(
    name="wan_vace",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 480, 832, 81,
        "Wan 2.1 VACE 14B (VAE 8x spatial, 4x temporal; patch 1x2x2)",
    ),
    config_file="wan-vace-14b.json",
    # self attention of both stacks; attn2 (cross) never
    attention_layers=(LayerStack("blocks.{}.attn1", "num_layers"),
                      LayerStack("vace_blocks.{}.attn1", vace_layer_count)),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.wan_vace:adapter",
    text_in_self_attention=False,
)
