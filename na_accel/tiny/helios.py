"""Tiny random-weight Helios (HeliosTransformer3DModel), built from config offline.

Token layout: self-attention (attn1) over the history context (long, mid and short history
latents, patchified at 4x, 2x and 1x the patch size) followed by the chunk being denoised, a
row-major (frames, height, width) grid of 1x2x2 latent patches; cross-attention (attn2) to the
text. HeliosPipeline generates the video chunk by chunk, each chunk a full denoising schedule with
the earlier chunks as history.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from .wan import tiny_wan_vae

TINY_HELIOS_TEXT_DIM = 32  # UMT5 d_model


def tiny_helios_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny Wan VAE). ``is_amplify_history``
    is on, so the processor's history-key scaling (before its attention call) runs too."""
    from diffusers import HeliosTransformer3DModel

    torch.manual_seed(seed)
    return HeliosTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=in_channels,
        out_channels=in_channels,
        text_dim=TINY_HELIOS_TEXT_DIM,
        freq_dim=32,
        ffn_dim=64,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_dim=(4, 6, 6),  # sums to the head_dim, as (44, 42, 42) does to 128
        is_amplify_history=True,
    ).eval()


def tiny_helios_pipeline(seed: int = 0):
    """A HeliosPipeline: tiny transformer, UMT5 text encoder, Wan VAE (8x spatial, 4x temporal) and
    HeliosScheduler."""
    HeliosPipeline, HeliosScheduler = pipeline_classes("HeliosPipeline", "HeliosScheduler")

    from ._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    pipe = tiny_pipeline_class(HeliosPipeline)(
        tokenizer=tokenizer,
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_HELIOS_TEXT_DIM, umt5=True, seed=seed + 2),
        vae=tiny_wan_vae(seed + 1),
        # one stage (HeliosPipeline; the pyramid pipeline's schedulers have 3)
        scheduler=HeliosScheduler(stages=1, stage_range=[0, 1], use_dynamic_shifting=True),
        transformer=tiny_helios_transformer(seed),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_helios_call())


# helios_gna's window is 6x24x24 tokens, as written at every grid, and its first 15 steps run
# dense: the default run is 32 tokens wide (the window is narrower) and has 2 steps past the dense ones.
TINY_HELIOS_STEPS = 17
# Latent frames per chunk (Helios: 9): 2, the fewest a 3-D window can be sparse over. HeliosPipeline
# decodes every chunk with the VAE, even for output_type="latent": most of a tiny run's time.
TINY_HELIOS_CHUNK_FRAMES = 2

# One chunk: 5 frames of 48x512 pixels -> 2 latent frames of 6x64 -> token grid (T, H, W) = (2, 3, 32),
# after the pipeline's default history (16, 2, 1 + 1 latent frames: 32 + 32 + 192 tokens); 32 text
# tokens, 17 steps: the shipped helios_gna runs sparse in the last 2. Classifier-free guidance is on
# (guidance_scale 5, empty negative prompt): the transformer runs twice per step (two calls).
tiny_helios_call = TinyCall(
    height=48, width=512, num_frames=(TINY_HELIOS_CHUNK_FRAMES - 1) * 4 + 1, steps=TINY_HELIOS_STEPS,
    output_type="np",
    pipeline_kwargs={"guidance_scale": 5.0, "num_latent_frames_per_chunk": TINY_HELIOS_CHUNK_FRAMES},
)
