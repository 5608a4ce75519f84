"""Kandinsky 6 (Kandinsky6Transformer3DModel): the family spec. The adapter is ``kandinsky6.py``.

Video self attention (``visual_transformer_blocks.<i>.video_dec_block.self_attention``) over the video
tokens only, a row-major (frames, height, width) grid of 1x2x2 latent patches (HunyuanVideo's VAE:
8x spatial, 4x temporal). The latent comes channels-last, (B, T, H, W, C). Text (Qwen2.5-VL tokens
through the model's own text blocks) comes by cross attention; audio has its own self attention and
cross attention to and from the video: none of them is routed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, patch_sizes, randn

if TYPE_CHECKING:
    import torch


def attention_shape(config: Mapping[str, Any]) -> tuple[int, int]:
    """(heads, head_dim) of the video self attention: ``model_dim`` in heads of ``sum(axes_dims)``."""
    head_dim = sum(int(n) for n in config["axes_dims"])
    return int(config["model_dim"]) // head_dim, head_dim


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Random forward kwargs for any Kandinsky6Transformer3DModel over a (T, H, W) token grid, as its
    text-to-video pipeline passes them (no audio): ``hidden_states`` (batch, T * p_t, H * p_h, W * p_w,
    channels), channels = the latent's plus, with ``visual_cond``, the (zero) condition latent and its
    mask; text tokens, the pooled CLIP embedding, the timestep in [0, 1000], and the text padding mask
    (``valid_text_lens[b]`` valid tokens in row b; None when every token is valid, as the pipeline)."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    channels = 2 * config.in_visual_dim + 1 if config.visual_cond else config.in_visual_dim
    generator = torch.Generator().manual_seed(seed)
    mask = None
    if valid_text_lens is not None:
        lens = [int(n) for n in valid_text_lens]
        if len(lens) != batch or not all(1 <= n <= text_len for n in lens):
            raise ValueError(f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in "
                             f"[1, {text_len}]")
        mask = (torch.arange(text_len)[None, :] < torch.tensor(lens)[:, None]).to(device)
    return {
        "hidden_states": randn((batch, frames * p_t, height * p_h, width * p_w, channels), generator, device, dtype),
        "encoder_hidden_states": randn((batch, text_len, config.in_text_dim), generator, device, dtype),
        "pooled_projections": randn((batch, config.in_text_dim2), generator, device, dtype),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_attention_mask": mask,
    }


KANDINSKY6 = FamilySpec(
    name="kandinsky6",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 512, 768, 121,
        "Kandinsky 6.0 TI2VA (HunyuanVideo VAE 8x spatial, 4x temporal; patch 1x2x2)",
    ),
    config_file="kandinsky6-pro.json",
    attention_layers=(LayerStack("visual_transformer_blocks.{}.video_dec_block.self_attention", "num_visual_blocks"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.kandinsky6:adapter",
    text_in_self_attention=False,
    attention_shape=attention_shape,
    synthetic_loop_problem="its transformer takes a channels-last (B, T, H, W, C) latent with visual condition "
                           "channels and returns the latent channels alone, not the (B, C, T, H, W) latent the "
                           "synthetic loop passes",
)
