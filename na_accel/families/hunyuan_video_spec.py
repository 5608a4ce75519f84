"""HunyuanVideo (HunyuanVideoTransformer3DModel): the family spec. The adapter is ``hunyuan_video.py``.

Joint [video, text] attention in 20 dual-stream + 40 single-stream blocks; the video tokens are a
row-major (frames, height, width) grid of 1x2x2 latent patches (VAE 8x spatial, 4x temporal); the
text is right-padded and masked by ``encoder_attention_mask``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any HunyuanVideoTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * patch_size_t, H * patch_size, W * patch_size).
    ``encoder_attention_mask`` is (batch, text_len) in ``dtype`` with 1 for the first
    ``valid_text_lens[b]`` tokens of row b and 0 for the padding after them, as the pipeline passes
    it (default: every token valid). ``guidance`` is there when the config has guidance_embeds.
    """
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    if valid_text_lens is None:
        valid_text_lens = [text_len] * batch
    valid_text_lens = [int(n) for n in valid_text_lens]
    if len(valid_text_lens) != batch or not all(0 <= n <= text_len for n in valid_text_lens):
        raise ValueError(
            f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in [0, {text_len}]"
        )
    generator = torch.Generator().manual_seed(seed)
    p, p_t = int(config.patch_size), int(config.patch_size_t)
    mask = (torch.arange(text_len)[None, :] < torch.tensor(valid_text_lens)[:, None]).to(device=device, dtype=dtype)
    inputs = {
        "hidden_states": randn(
            (batch, config.in_channels, frames * p_t, height * p, width * p), generator, device, dtype
        ),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_embed_dim), generator, device, dtype),
        "encoder_attention_mask": mask,
        "pooled_projections": randn((batch, config.pooled_projection_dim), generator, device, dtype),
    }
    if config.guidance_embeds:
        # the pipeline passes guidance_scale * 1000
        inputs["guidance"] = torch.full((batch,), 6000.0, device=device, dtype=dtype)
    return inputs


HUNYUAN_VIDEO = FamilySpec(
    name="hunyuan_video",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 720, 1280, 129,
        "HunyuanVideo (VAE 8x spatial, 4x temporal; patch 1x2x2)",
    ),
    config_file="hunyuan-video.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),
                      LayerStack("single_transformer_blocks.{}.attn", "num_single_layers")),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.hunyuan_video:adapter",
    text_in_self_attention=True,
)
