"""Tiny random-weight HunyuanImage 2.1 (HunyuanImageTransformer2DModel, HunyuanImagePipeline), built from config offline.

Token layout: [image, text]; the image tokens are a row-major (height, width) grid of 1x1 patches
of the VAE's 32x-compressed latent. The text is a tiny Qwen2.5-VL's hidden states (the pipeline
reads the third-from-last layer), padded to the pipeline's fixed length, plus ByT5 glyph tokens
(valid only for quoted text in the prompt), joined by the forward as [valid ByT5, valid Qwen,
padding...] and masked.
"""

from __future__ import annotations

import torch

from ._call import TEXT_TOKENS, TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_HUNYUAN_IMAGE_LATENT_CHANNELS = 4
TINY_HUNYUAN_IMAGE_TEXT_DIM = 32  # Qwen2.5-VL hidden size
TINY_HUNYUAN_IMAGE_BYT5_DIM = 24  # T5 d_model
TINY_HUNYUAN_IMAGE_BYT5_TOKENS = 8  # the pipeline's tokenizer_2_max_length (128 in the real one)
TINY_HUNYUAN_IMAGE_SYSTEM_MESSAGE = "Describe the image."  # the pipeline's is ~130 characters
# The real pipeline's prompt template (Qwen's chat format, no assistant turn) with the short system message.
TINY_HUNYUAN_IMAGE_PROMPT_TEMPLATE = (
    f"<|im_start|>system\n{TINY_HUNYUAN_IMAGE_SYSTEM_MESSAGE}<|im_end|>\n<|im_start|>user\n{{}}<|im_end|>"
)


def tiny_hunyuan_image_transformer(seed: int = 0):
    """One dual-stream and one single-stream block (both kinds of routed layer; one each keeps the
    triton interpreter's contract cases quick) of 2 heads x 16, with a ByT5 projection (as
    HunyuanImage 2.1's; diffusers gives it a fixed 2048-wide hidden layer, hence ~4.4M parameters)."""
    from diffusers import HunyuanImageTransformer2DModel

    torch.manual_seed(seed)
    return HunyuanImageTransformer2DModel(
        in_channels=TINY_HUNYUAN_IMAGE_LATENT_CHANNELS,
        out_channels=TINY_HUNYUAN_IMAGE_LATENT_CHANNELS,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        patch_size=(1, 1),
        text_embed_dim=TINY_HUNYUAN_IMAGE_TEXT_DIM,
        text_embed_2_dim=TINY_HUNYUAN_IMAGE_BYT5_DIM,
        rope_axes_dim=(8, 8),
    ).eval()


def tiny_hunyuan_image_vae(seed: int = 0):
    """A small AutoencoderKLHunyuanImage: 32x spatial compression (as the real one), 4 latent channels."""
    from diffusers import AutoencoderKLHunyuanImage

    torch.manual_seed(seed)
    return AutoencoderKLHunyuanImage(
        in_channels=3,
        out_channels=3,
        latent_channels=TINY_HUNYUAN_IMAGE_LATENT_CHANNELS,
        block_out_channels=(32,) * 6,  # 5 downsampling blocks: 32x; GroupNorm has 32 groups
        layers_per_block=1,
        spatial_compression_ratio=32,
        sample_size=256,
        scaling_factor=0.75289,
    ).eval()


def _quiet_guider():
    """AdaptiveProjectedMixGuidance (the pipeline's guider; its defaults: classifier-free guidance 3.5,
    adaptive projection from step 5), without diffusers' "experimental feature" notice on every build."""
    from diffusers import AdaptiveProjectedMixGuidance
    from diffusers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        return AdaptiveProjectedMixGuidance()
    finally:
        logging.set_verbosity(level)


def tiny_hunyuan_image_pipeline(seed: int = 0):
    """A HunyuanImagePipeline: tiny transformer, Qwen2.5-VL and ByT5 (T5) text encoders, 32x VAE.

    The tokenizers have one token per character (Qwen) or byte (ByT5); quoted text in a prompt goes
    to ByT5 as glyph text, as in the real pipeline. The guider runs classifier-free guidance (two
    transformer calls per step). The pipeline's text lengths and prompt template are shortened on the
    instance (attributes, not call arguments): ``TEXT_TOKENS`` Qwen tokens after the system prompt,
    ``TINY_HUNYUAN_IMAGE_BYT5_TOKENS`` ByT5 tokens, every prompt padded to them.
    """
    FlowMatchEulerDiscreteScheduler, HunyuanImagePipeline = pipeline_classes(
        "FlowMatchEulerDiscreteScheduler", "HunyuanImagePipeline"
    )

    from ._qwen_text import chat_prefix_tokens, tiny_byt5_tokenizer, tiny_qwen25_vl_text_encoder, tiny_qwen2_tokenizer
    from ._text import tiny_t5_text_encoder

    tokenizer, tokenizer_2 = tiny_qwen2_tokenizer(), tiny_byt5_tokenizer()
    pipe = tiny_pipeline_class(HunyuanImagePipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        vae=tiny_hunyuan_image_vae(seed + 1),
        text_encoder=tiny_qwen25_vl_text_encoder(len(tokenizer), hidden_size=TINY_HUNYUAN_IMAGE_TEXT_DIM,
                                                 seed=seed + 2),
        tokenizer=tokenizer,
        text_encoder_2=tiny_t5_text_encoder(len(tokenizer_2), d_model=TINY_HUNYUAN_IMAGE_BYT5_DIM, seed=seed + 3),
        tokenizer_2=tokenizer_2,
        transformer=tiny_hunyuan_image_transformer(seed),
        guider=_quiet_guider(),
    )
    pipe.prompt_template_encode = TINY_HUNYUAN_IMAGE_PROMPT_TEMPLATE
    pipe.prompt_template_encode_start_idx = chat_prefix_tokens(tokenizer, TINY_HUNYUAN_IMAGE_SYSTEM_MESSAGE)
    pipe.tokenizer_max_length = TEXT_TOKENS
    pipe.tokenizer_2_max_length = TINY_HUNYUAN_IMAGE_BYT5_TOKENS
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_hunyuan_image_call())


# hunyuan_image_gna runs its first 10 steps dense; 12 steps leave 2 sparse ones.
TINY_HUNYUAN_IMAGE_STEPS = 12

# 512x512 pixels -> 16x16 latents (VAE 32x) -> token grid (H, W) = (16, 16), where hunyuan_image_gna's
# window (scaled from its 64x64 grid, snapped to the backend's tiles) is smaller than the grid; plus
# 40 text tokens (32 Qwen, every prompt padded to them, and 8 ByT5, valid only for quoted text).
# Classifier-free guidance (the guider): two transformer calls per step.
tiny_hunyuan_image_call = TinyCall(height=512, width=512, steps=TINY_HUNYUAN_IMAGE_STEPS, text_tokens_kwarg=None)
