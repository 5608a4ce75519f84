"""Tiny random-weight HunyuanVideo 1.5 (HunyuanVideo15Transformer3DModel), built from config offline.

Token layout: [video, text]; the video tokens are a row-major (frames, height, width) grid of
1x1x1 latent patches (VAE 16x spatial, 4x temporal). The forward builds the text from the image
embeddings (all zeros, so all padding, for text-to-video), the ByT5 glyph text and the Qwen2.5-VL
prompt, valid tokens first.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_HUNYUAN15_LATENT_CHANNELS = 4
TINY_HUNYUAN15_TEXT_DIM = 32  # Qwen2.5-VL hidden size
TINY_HUNYUAN15_BYT5_DIM = 24  # T5 d_model
TINY_HUNYUAN15_IMAGE_DIM = 16  # image-embedding width (SigLIP's, 1152, in the real model)
# The pipeline's text lengths, set on the tiny pipeline (HunyuanVideo15Pipeline takes no
# max_sequence_length): Qwen prompt tokens after the system prompt, ByT5 tokens, image tokens.
TINY_HUNYUAN15_TEXT_TOKENS = 48
TINY_HUNYUAN15_BYT5_TOKENS = 16
TINY_HUNYUAN15_IMAGE_TOKENS = 4
TINY_HUNYUAN15_SYSTEM_MESSAGE = "Describe the video."  # the pipeline's is ~600 characters


def tiny_hunyuan_video15_transformer(seed: int = 0):
    """2 dual-stream blocks of 2 heads x 16; in_channels = latent + condition latent + mask channel.

    ByT5's projection has a fixed 2048-wide hidden layer in diffusers, hence ~4.4M parameters."""
    from diffusers import HunyuanVideo15Transformer3DModel

    torch.manual_seed(seed)
    return HunyuanVideo15Transformer3DModel(
        in_channels=2 * TINY_HUNYUAN15_LATENT_CHANNELS + 1,
        out_channels=TINY_HUNYUAN15_LATENT_CHANNELS,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        patch_size=1,
        patch_size_t=1,
        text_embed_dim=TINY_HUNYUAN15_TEXT_DIM,
        text_embed_2_dim=TINY_HUNYUAN15_BYT5_DIM,
        image_embed_dim=TINY_HUNYUAN15_IMAGE_DIM,
        rope_axes_dim=(4, 6, 6),
        target_size=64,  # the pipeline's size when called without one: 48x80 pixels
        task_type="t2v",
    ).eval()


def _quiet_guider(guidance_scale: float):
    """ClassifierFreeGuidance, without diffusers' "experimental feature" notice on every build."""
    from diffusers import ClassifierFreeGuidance
    from diffusers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        return ClassifierFreeGuidance(guidance_scale=guidance_scale)
    finally:
        logging.set_verbosity(level)


def tiny_hunyuan_video15_pipeline(seed: int = 0, guidance_scale: float = 6.0):
    """A HunyuanVideo15Pipeline: tiny transformer, Qwen2.5-VL and ByT5 (T5) text encoders, 3D VAE.

    VAE: 16x spatial, 4x temporal compression (as the real one), 4 latent channels. The tokenizers
    have one token per character (Qwen) or byte (ByT5); quoted text in a prompt goes to ByT5 as
    glyph text, as in the real pipeline. The guider runs classifier-free guidance (two transformer
    calls per step; ``guidance_scale=1.0``: one). The pipeline's text lengths and system prompt are
    shortened on the instance (they are attributes, not call arguments).
    """
    AutoencoderKLHunyuanVideo15, FlowMatchEulerDiscreteScheduler, HunyuanVideo15Pipeline = pipeline_classes(
        "AutoencoderKLHunyuanVideo15", "FlowMatchEulerDiscreteScheduler", "HunyuanVideo15Pipeline"
    )

    from ._qwen_text import chat_prefix_tokens, tiny_byt5_tokenizer, tiny_qwen25_vl_text_encoder, tiny_qwen2_tokenizer
    from ._text import tiny_t5_text_encoder

    transformer = tiny_hunyuan_video15_transformer(seed)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLHunyuanVideo15(
        in_channels=3,
        out_channels=3,
        latent_channels=TINY_HUNYUAN15_LATENT_CHANNELS,
        block_out_channels=(8, 8, 8, 8, 8),  # 4 downsampling blocks: 16x spatial
        layers_per_block=1,
        spatial_compression_ratio=16,
        temporal_compression_ratio=4,
    ).eval()
    # diffusers 0.42.1's VAE attention block builds a (batch, S, S) causal mask that does not
    # broadcast against its (batch, 1, S, C) queries when batch > 1: decode one video at a time.
    vae.enable_slicing()
    tokenizer, tokenizer_2 = tiny_qwen2_tokenizer(), tiny_byt5_tokenizer()
    pipe = tiny_pipeline_class(HunyuanVideo15Pipeline)(
        text_encoder=tiny_qwen25_vl_text_encoder(len(tokenizer), hidden_size=TINY_HUNYUAN15_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),  # the 480p checkpoints'
        text_encoder_2=tiny_t5_text_encoder(len(tokenizer_2), d_model=TINY_HUNYUAN15_BYT5_DIM, seed=seed + 3),
        tokenizer_2=tokenizer_2,
        guider=_quiet_guider(guidance_scale),
    )
    pipe.system_message = TINY_HUNYUAN15_SYSTEM_MESSAGE
    pipe.prompt_template_encode_start_idx = chat_prefix_tokens(tokenizer, TINY_HUNYUAN15_SYSTEM_MESSAGE)
    pipe.tokenizer_max_length = TINY_HUNYUAN15_TEXT_TOKENS
    pipe.tokenizer_2_max_length = TINY_HUNYUAN15_BYT5_TOKENS
    pipe.vision_num_semantic_tokens = TINY_HUNYUAN15_IMAGE_TOKENS
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_hunyuan_video15_call())


# 9 frames of 48x128 pixels -> 3 latent frames of 3x8 -> token grid (T, H, W) = (3, 3, 8), plus 68
# text tokens: 4 image (padding for text-to-video), 16 ByT5 (valid only for quoted text), 48 Qwen
# (the prompt's characters and the chat template's closing tokens valid, the rest padding).
# 17 steps: hunyuan_video15_gna (scaled from its 31x30x53 grid, snapped to the backend's tiles) runs
# sparse after its 15 dense steps; classifier-free guidance: two transformer calls per step.
tiny_hunyuan_video15_call = TinyCall(height=48, width=128, num_frames=9, steps=17, text_tokens_kwarg=None)
