"""Helios (HeliosTransformer3DModel): the family spec. The adapter is ``helios.py`` (imports diffusers).

Helios (Wan 2.1 14B made autoregressive) generates a video chunk by chunk. Its self attention
(``blocks.<i>.attn1``) runs over one joint sequence: the history context first (long, mid, short
history latents, each patchified by its own Conv3d: 4x, 2x and 1x the patch size, so three grids of
different shapes), then the chunk being denoised, a row-major (frames, height, width) grid of 1x2x2
latent patches (VAE 8x spatial, 4x temporal). No mask, not causal. The text comes by cross
attention (attn2).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .family_types import FamilyGeometry, FamilySpec, LayerStack, is_int
from .inputs import check_grid_and_batch, patch_sizes, randn

if TYPE_CHECKING:
    import torch

# The history latents' replicate padding before their patch Conv3d (HeliosTransformer3DModel.forward:
# pad_for_3d_conv(mid, (2, 4, 4)), pad_for_3d_conv(long, (4, 8, 8))), and the Conv3d's kernel
# (= stride) as a multiple of the patch size (patch_mid: 2x, patch_long: 4x; patch_short: 1x, unpadded).
HISTORY_PATCHES = (  # (latents argument, indices argument, padding, patch multiple), in forward order
    ("latents_history_short", "indices_latents_history_short", None, 1),
    ("latents_history_mid", "indices_latents_history_mid", (2, 4, 4), 2),
    ("latents_history_long", "indices_latents_history_long", (4, 8, 8), 4),
)


def history_patch_tokens(shape: tuple[int, ...], patch: tuple[int, int, int], padding, multiple: int) -> int:
    """Tokens one (B, C, T, H, W) history latent of ``shape`` becomes: padded up to ``padding``
    (replicate), then a Conv3d with kernel = stride = ``multiple`` x the patch size, no padding."""
    sizes = shape[2:]
    if padding is not None:
        sizes = [-(-n // p) * p for n, p in zip(sizes, padding)]
    kernel = [multiple * p for p in patch]
    return math.prod(max(0, (n - k) // k + 1) for n, k in zip(sizes, kernel))


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
    history_frames: tuple[int, int, int] | None = None,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any HeliosTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * p_t, H * p_h, W * p_w). ``history_frames``
    (long, mid, short latent frames; the pipeline's default history is (16, 2, 1 + 1)) adds the
    history latents at the chunk's latent height and width with their frame indices, as
    HeliosPipeline passes them; None (the default): the chunk alone, no history in the sequence.
    """
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    generator = torch.Generator().manual_seed(seed)
    latent = (frames * p_t, height * p_h, width * p_w)
    inputs = {
        "hidden_states": randn((batch, config.in_channels, *latent), generator, device, dtype),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_dim), generator, device, dtype),
    }
    if history_frames is None:
        return inputs
    history_frames = tuple(history_frames)
    if len(history_frames) != 3 or not all(is_int(n) and n >= 1 for n in history_frames):
        raise ValueError(f"history_frames: {history_frames!r} is not valid; allowed: (long, mid, short) positive "
                         "ints in latent frames")
    long, mid, short = history_frames
    indices = torch.arange(long + mid + short + latent[0], device=device).unsqueeze(0)
    index_long, index_mid, index_short, index_chunk = indices.split([long, mid, short, latent[0]], dim=1)
    inputs["indices_hidden_states"] = index_chunk
    for (latents_name, indices_name, _, _), n, index in zip(
            HISTORY_PATCHES, (short, mid, long), (index_short, index_mid, index_long)):
        inputs[latents_name] = randn((batch, config.in_channels, n, *latent[1:]), generator, device, dtype)
        inputs[indices_name] = index
    return inputs


HELIOS = FamilySpec(
    name="helios",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 384, 640, 33,
        "Helios-Base, one chunk of 9 latent frames (33 frames; Wan 2.1 VAE 8x spatial, 4x temporal; patch 1x2x2)",
    ),
    config_file="helios-14b.json",
    # self attention; attn2 (cross attention to the text) is never touched
    attention_layers=(LayerStack("blocks.{}.attn1", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.helios:adapter",
    text_in_self_attention=False,  # text comes by cross attention; the history context joins as extra keys
)
