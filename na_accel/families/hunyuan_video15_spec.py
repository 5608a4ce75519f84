"""HunyuanVideo 1.5 (HunyuanVideo15Transformer3DModel): the family spec. The adapter is ``hunyuan_video15.py``.

Joint [video, text] attention in 54 dual-stream blocks; the video tokens are a row-major (frames,
height, width) grid of 1x1x1 latent patches (VAE 16x spatial, 4x temporal). The joint text is
built inside the forward from three inputs, reordered per row into [valid..., padding...]: the
image embeddings (SigLIP, 729 tokens; all padding for text-to-video), the ByT5 glyph text (256)
and the Qwen2.5-VL prompt (1000).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch

# The pipelines' joint text: image tokens, ByT5 tokens, Qwen tokens (vision_num_semantic_tokens,
# tokenizer_2_max_length, tokenizer_max_length of HunyuanVideo15Pipeline).
PIPELINE_TEXT_PARTS = (729, 256, 1000)


def text_parts(text_len: int) -> tuple[int, int, int]:
    """(image, ByT5, Qwen) token counts of a joint text of ``text_len`` tokens, split as the
    pipelines' 729 + 256 + 1000 (rounded down; Qwen takes the rest)."""
    total = sum(PIPELINE_TEXT_PARTS)
    image, byt5 = (text_len * n // total for n in PIPELINE_TEXT_PARTS[:2])
    return image, byt5, text_len - image - byt5


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    image_to_video: bool = False,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any HunyuanVideo15Transformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * patch_size_t, H * patch_size, W * patch_size).
    The joint text of ``text_len`` tokens comes as the pipelines pass it, split by ``text_parts``:
    ``image_embeds`` (zeros for text-to-video, so its tokens are padding; random and valid with
    ``image_to_video``), ByT5 ``encoder_hidden_states_2`` and Qwen ``encoder_hidden_states``, each
    with a float mask. ``valid_text_lens[b]`` is row b's valid joint-text length (default: every
    Qwen and ByT5 token valid); its valid Qwen tokens come first, then ByT5.
    """
    import torch
    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    config = transformer.config
    n_image, n_byt5, n_qwen = text_parts(text_len)
    always = n_image if image_to_video else 0  # image tokens are valid exactly for image-to-video
    if valid_text_lens is None:
        valid_text_lens = [always + n_byt5 + n_qwen] * batch
    valid_text_lens = [int(n) for n in valid_text_lens]
    if len(valid_text_lens) != batch or not all(always <= n <= always + n_byt5 + n_qwen for n in valid_text_lens):
        raise ValueError(
            f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in "
            f"[{always}, {always + n_byt5 + n_qwen}] (text_len {text_len} = {n_image} image + {n_byt5} ByT5 + "
            f"{n_qwen} Qwen tokens; image tokens are valid for image-to-video only)"
        )
    qwen_valid = [min(n - always, n_qwen) for n in valid_text_lens]
    byt5_valid = [n - always - q for n, q in zip(valid_text_lens, qwen_valid)]

    def mask(length: int, valid: list[int]) -> torch.Tensor:
        return (torch.arange(length)[None, :] < torch.tensor(valid)[:, None]).to(device=device, dtype=dtype)

    generator = torch.Generator().manual_seed(seed)
    p, p_t = int(config.patch_size), int(config.patch_size_t)
    image_embeds = randn((batch, n_image, config.image_embed_dim), generator, device, dtype)
    return {
        "hidden_states": randn(
            (batch, config.in_channels, frames * p_t, height * p, width * p), generator, device, dtype
        ),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, n_qwen, config.text_embed_dim), generator, device, dtype),
        "encoder_attention_mask": mask(n_qwen, qwen_valid),
        "encoder_hidden_states_2": randn((batch, n_byt5, config.text_embed_2_dim), generator, device, dtype),
        "encoder_attention_mask_2": mask(n_byt5, byt5_valid),
        "image_embeds": image_embeds if image_to_video else torch.zeros_like(image_embeds),
    }


HUNYUAN_VIDEO15 = FamilySpec(
    name="hunyuan_video15",
    geometry=FamilyGeometry(("frames", "height", "width"), 16, 4, 480, 848, 121,
        "HunyuanVideo 1.5 480p (VAE 16x spatial, 4x temporal; patch 1x1x1)",
    ),
    config_file="hunyuan-video15.json",
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.hunyuan_video15:adapter",
    text_in_self_attention=True,
)
