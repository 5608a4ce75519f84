"""Chroma (ChromaTransformer2DModel): the family spec. The adapter is ``chroma.py`` (imports diffusers).

FLUX.1-schnell derived: joint [text, image] attention in 19 dual-stream + 38 single-stream blocks;
the image tokens are a row-major (height, width) grid of 2x2-packed latents, one token per 16x16
pixels, as FLUX's. The T5 text is right-padded and masked (``attention_mask`` over [text, image]).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def transformer_inputs(transformer, grid=(4, 4), batch: int = 1, text_len: int = 8, seed: int = 0, device="cpu",
                       dtype: torch.dtype | None = None,
                       valid_text_lens: Sequence[int] | None = None) -> dict[str, Any]:
    """Random forward kwargs for any ChromaTransformer2DModel over a (height, width) token grid, shaped as
    ChromaPipeline passes them: packed latents (B, H*W, in_channels), T5 text (B, T, joint_attention_dim),
    img_ids / txt_ids, t / 1000; with ``valid_text_lens`` (one per row) a bool ``attention_mask`` (B, T + H*W)
    marking each row's first valid_text_lens[b] text tokens and every image token."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    height, width = check_grid_and_batch(grid, batch, ("height", "width"))
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    inputs = {
        "encoder_hidden_states": randn((batch, text_len, config.joint_attention_dim), generator, device, dtype),
        "img_ids": torch.stack([torch.zeros_like(rows), rows, cols], dim=1).to(device, dtype),
        "txt_ids": torch.zeros(text_len, 3, device=device, dtype=dtype),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),  # the pipeline passes t / 1000
    }
    if valid_text_lens is not None:
        if len(valid_text_lens) != batch or not all(0 < n <= text_len for n in valid_text_lens):
            from ..errors import ArgumentError
            raise ArgumentError(f"valid_text_lens: {list(valid_text_lens)} needs one length in 1..{text_len} per "
                                f"batch row ({batch})")
        text = torch.arange(text_len)[None, :] < torch.tensor(list(valid_text_lens))[:, None]
        inputs["attention_mask"] = torch.cat([text, torch.ones(batch, height * width, dtype=torch.bool)], 1).to(device)
    inputs["hidden_states"] = randn((batch, height * width, config.in_channels), generator, device, dtype)
    return inputs


CHROMA = FamilySpec(
    name="chroma",
    geometry=FamilyGeometry(("height", "width"), 16, None, 1024, 1024, None,
                            "Chroma1-HD (FLUX.1-schnell derived; VAE 8x, 2x2 patches)"),
    config_file="chroma1-hd.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),
                      LayerStack("single_transformer_blocks.{}.attn", "num_single_layers")),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.chroma:adapter",
    text_in_self_attention=True,
    timestep_scale=1e-3,
)
