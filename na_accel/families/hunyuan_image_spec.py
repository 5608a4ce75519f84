"""HunyuanImage 2.1 (HunyuanImageTransformer2DModel): the family spec. The adapter is ``hunyuan_image.py``.

Joint [image, text] attention in 20 dual-stream + 40 single-stream blocks; the image tokens are a
row-major (height, width) grid of 1x1 patches of a 32x-compressed latent (VAE 32x): one token per
32x32 pixels, 2048x2048 -> 64x64. The text (Qwen2.5-VL, padded to a fixed length, plus ByT5 glyph
tokens) is masked by ``encoder_attention_mask`` (and ``encoder_attention_mask_2``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def _prefix_mask(length: int, valid, device) -> torch.Tensor:
    import torch

    return (torch.arange(length)[None, :] < torch.tensor(valid)[:, None]).long().to(device)


def transformer_inputs(
    transformer,
    grid: tuple[int, int] = (4, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Random forward kwargs for any HunyuanImageTransformer2DModel over a (height, width) token grid,
    as HunyuanImagePipeline (or, for a 3-D patch size, the refiner) passes them.

    ``hidden_states`` is (batch, in_channels, H * p, W * p), or (batch, in_channels, p_t, H * p,
    W * p) for a (p_t, p, p) patch size (the refiner's one latent frame). ``text_len`` is the joint
    text: where the config has a ByT5 projection (``text_embed_2_dim``) a quarter of it (rounded
    down) is ByT5 glyph tokens (``encoder_hidden_states_2``), the rest Qwen tokens. Row b's first
    ``valid_text_lens[b]`` joint text tokens are valid (default: all): the Qwen mask
    (``encoder_attention_mask``, int64 as the tokenizer gives it) marks up to its length, the ByT5
    mask the rest. ``timestep`` is the scheduler's (0..1000), ``timestep_r`` (MeanFlow) the next one,
    ``guidance`` (guidance-distilled) distilled_guidance_scale * 1000.
    """
    import torch
    dtype = torch.float32 if dtype is None else dtype
    height, width = check_grid_and_batch(grid, batch, ("height", "width"))
    config = transformer.config
    if valid_text_lens is None:
        valid_text_lens = [text_len] * batch
    valid = [int(n) for n in valid_text_lens]
    if len(valid) != batch or not all(0 <= n <= text_len for n in valid):
        raise ValueError(f"valid_text_lens: {list(valid_text_lens)!r} is not valid; allowed: {batch} ints in "
                         f"[0, {text_len}]")
    glyph_len = text_len // 4 if config.text_embed_2_dim is not None else 0
    qwen_len = text_len - glyph_len
    generator = torch.Generator().manual_seed(seed)
    patch = [int(p) for p in config.patch_size]
    latent = [height * patch[-2], width * patch[-1]]
    if len(patch) == 3:
        latent = [patch[0], *latent]  # the refiner's one latent frame
    inputs = {
        "hidden_states": randn((batch, config.in_channels, *latent), generator, device, dtype),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, qwen_len, config.text_embed_dim), generator, device, dtype),
        "encoder_attention_mask": _prefix_mask(qwen_len, [min(n, qwen_len) for n in valid], device),
    }
    if glyph_len:
        inputs["encoder_hidden_states_2"] = randn((batch, glyph_len, config.text_embed_2_dim), generator, device,
                                                  dtype)
        inputs["encoder_attention_mask_2"] = _prefix_mask(glyph_len, [max(n - qwen_len, 0) for n in valid], device)
    if config.use_meanflow:
        inputs["timestep_r"] = torch.full((batch,), 400.0, device=device, dtype=dtype)
    if config.guidance_embeds:
        inputs["guidance"] = torch.full((batch,), 3250.0, device=device, dtype=dtype)
    return inputs


HUNYUAN_IMAGE = FamilySpec(
    name="hunyuan_image",
    geometry=FamilyGeometry(("height", "width"), 32, None, 2048, 2048, None, "HunyuanImage 2.1 (VAE 32x, 1x1 patches)"
    ),
    config_file="hunyuan-image21.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),
                      LayerStack("single_transformer_blocks.{}.attn", "num_single_layers")),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.hunyuan_image:adapter",
    text_in_self_attention=True,
)
