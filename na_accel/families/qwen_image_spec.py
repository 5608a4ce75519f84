"""Qwen-Image (QwenImageTransformer2DModel): the family spec. The adapter is ``qwen_image.py``.

Joint [text, image] attention in 60 double-stream blocks (Qwen-Image 20B); the image tokens are a
row-major (height, width) grid of 2x2-packed latents (VAE 8x): one token per 16x16 pixels. The
grid comes from the forward kwarg ``img_shapes``; the text is right-padded and masked by
``encoder_hidden_states_mask`` (None when no row is padded).
"""

from __future__ import annotations

import inspect

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def text_padding_mask(text_len: int, valid_text_lens, batch: int, device="cpu") -> torch.Tensor | None:
    """The pipeline's ``encoder_hidden_states_mask``: (batch, text_len) int64, 1 for the first
    ``valid_text_lens[b]`` tokens of row b; None (as the pipeline passes it) when every token is valid."""
    import torch
    if valid_text_lens is None:
        return None
    lens = [int(n) for n in valid_text_lens]
    if len(lens) != batch or not all(0 <= n <= text_len for n in lens):
        raise ValueError(f"valid_text_lens: {list(valid_text_lens)!r} is not valid; allowed: {batch} ints in "
                         f"[0, {text_len}]")
    mask = (torch.arange(text_len)[None, :] < torch.tensor(lens)[:, None]).long()
    return None if bool(mask.all()) else mask.to(device)


def transformer_inputs(
    transformer,
    grid: tuple[int, int] = (4, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    reference_grids=(),
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Random forward kwargs for any QwenImageTransformer2DModel over a (height, width) token grid,
    as QwenImagePipeline passes them: packed latents (B, H*W, in_channels), text (B, text_len,
    joint_attention_dim), ``img_shapes`` [[(1, H, W)]] per row, timestep t / 1000, and the padding
    mask ``encoder_hidden_states_mask`` when ``valid_text_lens`` pads some row (else None).
    ``reference_grids``: (height, width) token grids of reference images, appended after the
    image's tokens and to ``img_shapes`` as the edit pipelines do. Layered configs
    (``use_additional_t_cond``) also get ``additional_t_cond``."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    grids = [check_grid_and_batch(g, batch, ("height", "width")) for g in (grid, *reference_grids)]
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    tokens = sum(h * w for h, w in grids)
    inputs = {
        "hidden_states": randn((batch, tokens, config.in_channels), generator, device, dtype),
        "encoder_hidden_states": randn((batch, text_len, config.joint_attention_dim), generator, device, dtype),
        "encoder_hidden_states_mask": text_padding_mask(text_len, valid_text_lens, batch, device),
        "img_shapes": [[(1, h, w) for h, w in grids]] * batch,
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),  # the pipeline passes t / 1000
    }
    if getattr(config, "use_additional_t_cond", False):  # diffusers >= 0.37
        inputs["additional_t_cond"] = torch.zeros(batch, dtype=torch.long, device=device)
    if "txt_seq_lens" in inspect.signature(type(transformer).forward).parameters:  # diffusers 0.36 needs it
        mask = inputs["encoder_hidden_states_mask"]  # as its pipeline: the valid tokens per row
        inputs["txt_seq_lens"] = mask.sum(dim=1).tolist() if mask is not None else [text_len] * batch
    return inputs


QWEN_IMAGE = FamilySpec(
    name="qwen_image",
    geometry=FamilyGeometry(("height", "width"), 16, None, 1024, 1024, None, "Qwen-Image (VAE 8x, 2x2 patches)"
    ),
    config_file="qwen-image.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.qwen_image:adapter",
    text_in_self_attention=True,
    timestep_scale=1e-3,
)
