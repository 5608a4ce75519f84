"""LTX-Video (LTXVideoTransformer3DModel): the family spec. The adapter is ``ltx_video.py`` (imports diffusers).

Self attention (``transformer_blocks.<i>.attn1``) over the video tokens only, a row-major (frames,
height, width) grid of 1x1x1 latent patches (VAE 32x spatial, 8x temporal: one token is 32x32
pixels of 8 frames); the T5 text comes by cross attention (attn2). The transformer takes packed
tokens, (batch, tokens, channels), with the grid as ``num_frames``, ``height`` and ``width``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

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
    valid_text_lens: list[int] | None = None,
) -> dict[str, Any]:
    """Random forward kwargs for any LTXVideoTransformer3DModel, over a (T, H, W) token grid, as
    LTXPipeline passes them: packed ``hidden_states`` (batch, T * H * W, in_channels), the grid as
    ``num_frames``, ``height``, ``width``, and a (batch, text) ``encoder_attention_mask`` (1 = a
    real token: the first ``valid_text_lens[i]`` of row i, all by default; attn2 masks the rest)."""
    import torch

    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    lens = [text_len] * batch if valid_text_lens is None else list(valid_text_lens)
    if len(lens) != batch or not all(isinstance(n, int) and 0 <= n <= text_len for n in lens):
        raise ValueError(f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in [0, {text_len}]")
    mask = (torch.arange(text_len)[None, :] < torch.tensor(lens)[:, None]).to(device=device, dtype=dtype)
    return {
        "hidden_states": randn((batch, frames * height * width, config.in_channels), generator, device, dtype),
        "encoder_hidden_states": randn((batch, text_len, config.caption_channels), generator, device, dtype),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_attention_mask": mask,
        "num_frames": frames,
        "height": height,
        "width": width,
        "rope_interpolation_scale": (8 / 25, 32, 32),  # LTXPipeline's: (VAE temporal / frame rate, 32, 32)
    }


LTX_VIDEO = FamilySpec(
    name="ltx_video",
    geometry=FamilyGeometry(("frames", "height", "width"), 32, 8, 512, 704, 161,
        "LTX-Video 0.9.7 13B (VAE 32x spatial, 8x temporal; patch 1x1x1)",
    ),
    config_file="ltx-video-13b.json",
    # attn2 (cross attention to text) is never touched
    attention_layers=(LayerStack("transformer_blocks.{}.attn1", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.ltx_video:adapter",
    text_in_self_attention=False,
)
