"""SkyReels-V2 (SkyReelsV2Transformer3DModel): the family spec. The adapter is ``skyreels_v2.py``
(imports diffusers).

Wan 2.1's architecture and token geometry: self attention (``blocks.<i>.attn1``) over the video
tokens only, a row-major (frames, height, width) grid of 1x2x2 latent patches (the Wan VAE: 8x
spatial, 4x temporal); text (and image tokens for image-to-video checkpoints) by cross attention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
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
) -> dict[str, Any]:
    """Random forward kwargs for a SkyReelsV2Transformer3DModel over a (T, H, W) token grid: Wan's
    (``families.wan_spec.transformer_inputs``; the same config fields), plus ``fps`` (as the
    pipelines pass it: 0 for 16 fps, 1 otherwise, per sample) where the config injects it. The
    image-to-video processor takes the text as the last 512 context tokens: give such configs
    ``text_len=512``."""
    inputs = wan_transformer_inputs(transformer, grid, batch, text_len, seed, device, dtype)
    if transformer.config.inject_sample_info:
        inputs["fps"] = [1] * batch
    return inputs


SKYREELS_V2 = FamilySpec(
    name="skyreels_v2",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 544, 960, 97,
        "SkyReels-V2 T2V 14B 540P (Wan VAE 8x spatial, 4x temporal; patch 1x2x2)",
    ),
    config_file="skyreels-v2-14b-540p.json",
    # self attention; attn2 (cross attention) is never touched
    attention_layers=(LayerStack("blocks.{}.attn1", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.skyreels_v2:adapter",
    text_in_self_attention=False,
)
