"""Tiny random-weight Kandinsky 6 (Kandinsky6Transformer3DModel, Kandinsky6TI2VAPipeline), built offline.

Video self attention over a row-major (frames, height, width) grid of 1x2x2 patches of the
channels-last latent; text by cross attention (a tiny Qwen2.5-VL language model's last hidden
states, CLIP's pooled embedding). The tiny pipeline generates video without audio
(``sample_audio=False``: no MMAudio VAE or vocoder): the audio branch of the fused blocks, stock
either way, stays idle.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_KANDINSKY6_TEXT_DIM = 32  # the tiny Qwen2.5-VL's hidden size
TINY_KANDINSKY6_POOLED_DIM = 24  # the tiny CLIP's hidden size
TINY_KANDINSKY6_LATENT_CHANNELS = 4  # the tiny HunyuanVideo VAE's latent channels


def tiny_kandinsky6_transformer(seed: int = 0):
    """2 fused blocks and 1 text block, video and audio 2 heads x 16 (RoPE axes 4 + 6 + 6), image
    conditioning's 2 visual token types."""
    from diffusers import Kandinsky6Transformer3DModel

    torch.manual_seed(seed)
    return Kandinsky6Transformer3DModel(
        in_visual_dim=TINY_KANDINSKY6_LATENT_CHANNELS,
        out_visual_dim=TINY_KANDINSKY6_LATENT_CHANNELS,
        in_text_dim=TINY_KANDINSKY6_TEXT_DIM,
        in_text_dim2=TINY_KANDINSKY6_POOLED_DIM,
        time_dim=16,
        patch_size=(1, 2, 2),
        model_dim=32,
        ff_dim=64,
        num_text_blocks=1,
        num_visual_blocks=2,
        axes_dims=(4, 6, 6),
        in_audio_dim=4,
        out_audio_dim=4,
        text_token_padding=True,
        ca_rope=True,
        cross_gates=True,
        fix_modulation=True,
        visual_token_type_num_embeddings=2,
    ).eval()


def tiny_kandinsky6_pipeline(seed: int = 0):
    """A Kandinsky6TI2VAPipeline: tiny transformer, HunyuanVideo VAE, Qwen2.5-VL text model with a
    Qwen2 tokenizer (one token per character; it keeps the end of a long text, so that the prompt
    survives the pipeline's template, counted in the real tokenizer's tokens), CLIP."""
    AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, Kandinsky6TI2VAPipeline = pipeline_classes(
        "AutoencoderKLHunyuanVideo", "FlowMatchEulerDiscreteScheduler", "Kandinsky6TI2VAPipeline"
    )

    from ._qwen_text import tiny_qwen25_vl_text_encoder, tiny_qwen2_tokenizer
    from ._text import tiny_clip_text_encoder, tiny_clip_tokenizer

    torch.manual_seed(seed + 1)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=TINY_KANDINSKY6_LATENT_CHANNELS,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    ).eval()
    tokenizer = tiny_qwen2_tokenizer()
    tokenizer.truncation_side = "left"
    tokenizer_2 = tiny_clip_tokenizer()
    pipe = tiny_pipeline_class(Kandinsky6TI2VAPipeline)(
        transformer=tiny_kandinsky6_transformer(seed),
        vae=vae,
        text_encoder=tiny_qwen25_vl_text_encoder(len(tokenizer), hidden_size=TINY_KANDINSKY6_TEXT_DIM, num_layers=2,
                                                 seed=seed + 2),
        tokenizer=tokenizer,
        text_encoder_2=tiny_clip_text_encoder(tokenizer_2, hidden_size=TINY_KANDINSKY6_POOLED_DIM, seed=seed + 3),
        tokenizer_2=tokenizer_2,
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_kandinsky6_call())


# kandinsky6_gna runs its first 10 steps dense; 12 steps leave 2 sparse ones.
TINY_KANDINSKY6_STEPS = 12

# 64x128 pixels x 9 frames -> latent 3 x 8 x 16 -> token grid (T, H, W) = (3, 4, 8), larger than
# kandinsky6_gna's window scaled to it. Classifier-free guidance (guidance_scale 5 by default): a
# second transformer call per step with the pipeline's default negative prompt. No audio.
tiny_kandinsky6_call = TinyCall(
    height=64, width=128, num_frames=9, steps=TINY_KANDINSKY6_STEPS,
    pipeline_kwargs={"sample_audio": False},
)
